import { parentPort } from 'node:worker_threads';
import { OtlpReceiver } from '../support/otlp-receiver.js';

/**
 * The otlp benchmark's loopback receiver, on its own thread so that the exporter under
 * measurement has the main thread (one core) to itself. Acknowledges without decoding;
 * posts its endpoint, and closes on 'close'.
 */
const receiver = await OtlpReceiver.start({ decode: false });
parentPort?.postMessage(receiver.endpoint);
parentPort?.on('message', (message) => {
  if (message !== 'close') return;
  void receiver.close().then(() => parentPort?.close());
});
