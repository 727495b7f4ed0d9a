/**
 * A tiny terminal screen for tests: applies the control sequences the
 * progress bar and the pretty logger use (CR, LF, erase line/right, column
 * 1, save/restore cursor; colours and modes are ignored) and returns the
 * lines a person would see.
 */
export function renderScreen(output: string): string[] {
  const lines: string[] = [''];
  let row = 0;
  let col = 0;
  let saved = { row: 0, col: 0 };
  const put = (ch: string) => {
    const line = lines[row]!.padEnd(col, ' ');
    lines[row] = line.slice(0, col) + ch + line.slice(col + 1);
    col += 1;
  };
  for (let i = 0; i < output.length; i += 1) {
    const ch = output[i]!;
    if (ch === '\r') col = 0;
    else if (ch === '\n') {
      row += 1;
      col = 0;
      if (lines.length <= row) lines.push('');
    } else if (ch === '\x1b') {
      const next = output[i + 1];
      if (next === '7') saved = { row, col };
      else if (next === '8') ({ row, col } = saved);
      if (next === '7' || next === '8') {
        i += 1;
        continue;
      }
      const m = /^\[(\??)([\d;]*)([A-Za-z])/.exec(output.slice(i + 1));
      if (!m) throw new Error(`unknown control sequence at ${i}: ${JSON.stringify(output.slice(i, i + 8))}`);
      i += m[0].length;
      const [, , arg, cmd] = m;
      if (cmd === 'K' && (arg === '2' || arg === '')) lines[row] = arg === '2' ? '' : lines[row]!.slice(0, col);
      else if (cmd === 'K' && arg === '0') lines[row] = lines[row]!.slice(0, col);
      else if (cmd === 'G') col = Math.max(0, Number(arg || '1') - 1);
      // m (colours), h/l (cursor and wrap modes): nothing to draw.
    } else put(ch);
  }
  return lines.map((l) => l.trimEnd()).filter((l, i, all) => l !== '' || i < all.length - 1);
}
