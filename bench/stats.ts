// Small helpers the benchmarks share: the median they report, and the --amp option's variants.

/** The median (the mean of the two middle values for an even count). */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** `--amp off|on|off,on`: which variants to run, in order (true: under autocast). */
export function ampVariants(option: string): boolean[] {
  return option.split(',').map((v) => {
    if (v !== 'off' && v !== 'on') throw new Error(`--amp takes off, on or off,on; got '${option}'`);
    return v === 'on';
  });
}
