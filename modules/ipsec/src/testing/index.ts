// Test doubles for @weft/ipsec.
export {};
