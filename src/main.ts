/** The executable's entry: `bin/paylinks.js` loads the compiled form of this module. */
export { main } from './cli/program.js';
