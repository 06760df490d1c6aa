// The runtime's version, as code: generated packages compare it with the range they were generated
// for when they are imported (a JSON import of package.json would need every user's tsconfig to
// allow JSON modules). test/runtime/version.test.ts holds it equal to package.json's version.
export const RUNTIME_VERSION = "0.1.0";
