export { k8sL7ProcessorFactory } from './factory.js';
export type { K8sL7Config } from './factory.js';
