export { SeededRandom } from '@weft/core/testing';
