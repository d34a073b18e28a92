// The few protocol-buffer encodings an event file needs (varint, 64-bit double, 32-bit float and
// length-delimited fields), written by hand: the messages are three small, stable ones
// (tensorflow/core/util/event.proto, summary.proto), and a protobuf runtime plus generated code
// would be far more than the ~60 lines they take.
export class ProtoWriter {
  readonly #chunks: Uint8Array[] = [];

  #push(bytes: Uint8Array): this {
    this.#chunks.push(bytes);
    return this;
  }

  #varint(value: bigint): this {
    // Negative int64 values are written as their 64-bit two's complement (10 bytes), as protobuf does.
    let v = BigInt.asUintN(64, value);
    const out: number[] = [];
    while (v >= 0x80n) {
      out.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    out.push(Number(v));
    return this.#push(Uint8Array.from(out));
  }

  #key(field: number, wireType: number): this {
    return this.#varint(BigInt((field << 3) | wireType));
  }

  /** int64 / int32 / bool / enum (wire type 0). */
  int(field: number, value: number | bigint): this {
    return this.#key(field, 0).#varint(BigInt(value));
  }

  double(field: number, value: number): this {
    const bytes = new Uint8Array(8);
    new DataView(bytes.buffer).setFloat64(0, value, true);
    return this.#key(field, 1).#push(bytes);
  }

  float(field: number, value: number): this {
    const bytes = new Uint8Array(4);
    new DataView(bytes.buffer).setFloat32(0, value, true);
    return this.#key(field, 5).#push(bytes);
  }

  bytes(field: number, value: Uint8Array): this {
    return this.#key(field, 2).#varint(BigInt(value.length)).#push(value);
  }

  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  message(field: number, build: (w: ProtoWriter) => void): this {
    const inner = new ProtoWriter();
    build(inner);
    return this.bytes(field, inner.finish());
  }

  /** A packed repeated double field. */
  packedDoubles(field: number, values: ArrayLike<number>): this {
    const bytes = new Uint8Array(values.length * 8);
    const view = new DataView(bytes.buffer);
    for (let i = 0; i < values.length; i++) view.setFloat64(i * 8, values[i] as number, true);
    return this.bytes(field, bytes);
  }

  finish(): Uint8Array {
    return Buffer.concat(this.#chunks);
  }
}
