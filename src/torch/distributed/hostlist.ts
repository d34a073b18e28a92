// SLURM's compact host and task lists ("node[01-03,07],gpu5", "2(x3),1"), expanded as
// `scontrol show hostnames` does, so a job needs no scontrol on its nodes.

function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '[') depth++;
    else if (text[i] === ']') depth--;
    else if (text[i] === ',' && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts.filter((p) => p !== '');
}

function expandOne(pattern: string): string[] {
  const open = pattern.indexOf('[');
  if (open < 0) return [pattern];
  const close = pattern.indexOf(']', open);
  if (close < 0) throw new Error(`hostlist '${pattern}': '[' without a matching ']'`);
  const prefix = pattern.slice(0, open);
  const rest = expandOne(pattern.slice(close + 1));
  const out: string[] = [];
  for (const range of pattern.slice(open + 1, close).split(',')) {
    const match = /^(\d+)(?:-(\d+))?$/.exec(range.trim());
    if (!match) throw new Error(`hostlist '${pattern}': '${range}' is not a number or a range like 01-04`);
    const [, from, to = from] = match as unknown as [string, string, string?];
    const width = from.length;
    for (let n = Number(from); n <= Number(to); n++) {
      const name = prefix + String(n).padStart(width, '0');
      for (const tail of rest) out.push(name + tail);
    }
  }
  return out;
}

/** Every host of a SLURM host list, in order: "node[01-02],gpu5" -> node01, node02, gpu5. */
export function expandHostlist(list: string): string[] {
  return splitTopLevel(list.trim()).flatMap(expandOne);
}

/** SLURM_TASKS_PER_NODE per node: "2(x3),1" -> [2, 2, 2, 1]. */
export function tasksPerNode(text: string): number[] {
  return text.split(',').flatMap((part) => {
    const match = /^(\d+)(?:\(x(\d+)\))?$/.exec(part.trim());
    if (!match) throw new Error(`SLURM_TASKS_PER_NODE '${text}': cannot read '${part}'`);
    return Array<number>(Number(match[2] ?? 1)).fill(Number(match[1]));
  });
}
