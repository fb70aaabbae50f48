/** The error a synchronous call throws, for asserting on its fields; fails the test if nothing is thrown. */
export function thrown(call: () => unknown): unknown {
  try {
    call();
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to throw');
}
