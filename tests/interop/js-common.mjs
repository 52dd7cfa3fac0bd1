// Shared by the js interop nodes (js-node.mjs, js-dht.mjs).

// A node that does not stop within this is left behind: the process exits.
export const STOP_TIMEOUT_MS = 5_000

export async function stopNode (node) {
  await Promise.race([
    node.stop(),
    new Promise(resolve => setTimeout(resolve, STOP_TIMEOUT_MS).unref())
  ])
}

// Prints the node's first listen address (the test scripts wait for that
// line), then stops the node and exits on SIGTERM or SIGINT.
export function printAddrUntilSignal (node) {
  const addrs = node.getMultiaddrs()
  if (addrs.length === 0) throw new Error('not listening')
  console.log(addrs[0].toString())
  const stop = async () => {
    await stopNode(node)
    process.exit(0)
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}
