import { OtlpReceiver } from '../support/otlp-receiver.js';

/**
 * The otlp benchmark's loopback receiver, in a child process (forked with IPC) so that the
 * exporter's process, whose CPU time is measured, does not pay for it. Acknowledges without
 * decoding; sends its endpoint, and exits on 'close'.
 */
const receiver = await OtlpReceiver.start({ decode: false });
process.send?.(receiver.endpoint);
process.on('message', (message) => {
  if (message !== 'close') return;
  void receiver.close().then(() => process.exit(0));
});
