// Public API of @weft/openvpn. Test doubles live in '@weft/openvpn/testing'.
export {};
