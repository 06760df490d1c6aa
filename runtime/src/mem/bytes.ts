// Byte-array reads for generated decoders.

/**
 * A copy of `length` bytes at `offset` of `view`. Throws a RangeError, as DataView's own getters
 * do, when the bytes are not all inside the view: a Uint8Array over `view.buffer` would otherwise
 * read past a short view into whatever follows it in the buffer.
 */
export function copyBytes(view: DataView, offset: number, length: number): Uint8Array {
  if (!(offset >= 0 && offset + length <= view.byteLength)) {
    throw new RangeError(`bytes [${offset}, ${offset + length}) are outside a ${view.byteLength}-byte view`);
  }
  return new Uint8Array(view.buffer, view.byteOffset + offset, length).slice();
}
