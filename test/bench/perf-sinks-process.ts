import { PerfSinks } from '../support/perf-sinks.js';

/**
 * The whole-pipeline benchmark's collectors (OTLP/gRPC and IPFIX/UDP on loopback), in a child
 * process forked with IPC so that the benchmark's own work does not delay them. Sends its
 * endpoints, then answers 'counts' and 'markers', and exits on 'close'.
 */
const sinks = await PerfSinks.start();
process.send?.({ otlp: sinks.otlpEndpoint, ipfix: sinks.ipfixEndpoint });
process.on('message', (message) => {
  switch (message) {
    case 'counts':
      process.send?.(sinks.counts);
      break;
    case 'markers':
      process.send?.({ otlp: [...sinks.otlpMarkers], ipfix: [...sinks.ipfixMarkers] });
      break;
    case 'close':
      void sinks.close().then(() => process.exit(0));
      break;
  }
});
