/**
 * Types of the undici files ./undici-lite.ts loads one by one (undici's types describe only its
 * index): each is the class the index exports under the same name.
 */
declare module 'undici/lib/dispatcher/dispatcher.js' {
  import type { Dispatcher } from 'undici';

  const D: typeof Dispatcher;
  export default D;
}
declare module 'undici/lib/dispatcher/pool.js' {
  import type { Pool } from 'undici';

  const P: typeof Pool;
  export default P;
}
declare module 'undici/lib/dispatcher/agent.js' {
  import type { Agent } from 'undici';

  const A: typeof Agent;
  export default A;
}
declare module 'undici/lib/dispatcher/proxy-agent.js' {
  import type { ProxyAgent } from 'undici';

  const P: typeof ProxyAgent;
  export default P;
}
declare module 'undici/lib/api/index.js' {
  const api: Record<string, unknown>;
  export default api;
}
