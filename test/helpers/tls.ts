/** The throwaway CA lives in src/testnet/ (the testnet's embedded HTTPS mirror uses it too). */
export * from '../../src/testnet/test-ca.ts';
