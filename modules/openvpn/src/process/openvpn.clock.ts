// The core's clock adapter, under the name openvpn's supervision has always imported.
export { systemClock, waitFor, type Clock } from '@weft/core';
