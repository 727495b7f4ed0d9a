/** The executable's entry: `bin/paylinks.js` loads the compiled form of this module. */
import { boundHeapGrowth } from './core/heap.js';

// Every paylinks process keeps its heap near its live data (see heap.ts).
boundHeapGrowth();

export { main } from './cli/program.js';
