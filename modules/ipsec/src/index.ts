// Public API of @weft/ipsec: the VICI client (vici/), charon supervision (charon/). Test doubles live in
// '@weft/ipsec/testing'.
export {};
