// A yield to the event loop between engine steps that works in Node and in a browser tab: setImmediate where
// it exists (Node: runs right after pending I/O), else a MessageChannel message (a browser task without
// setTimeout's 4 ms clamp).

/** Resolves in a later macrotask, after pending I/O and events. */
export function nextTask(): Promise<void> {
  if (typeof setImmediate === 'function') return new Promise((resolve) => setImmediate(resolve));
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(null);
  });
}
