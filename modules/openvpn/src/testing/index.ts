// Test doubles for @weft/openvpn.
export {};
