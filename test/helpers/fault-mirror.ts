/** The misbehaving HTTPS mirror lives in src/testnet/ (chaos-mirrors uses it too). */
export * from '../../src/testnet/fault-mirror.ts';
