import { isAbsolute } from 'node:path';
import { z } from 'zod';
import { duration, show } from '../../config/schema.js';
import type { ProcessorFactory } from '../../pipeline/component.js';
import { K8sL7Processor } from './processor.js';

/** A string matching `pattern`, refused with `what` (config/schema.ts words regex failures generically). */
const matching = (pattern: RegExp, what: string) =>
  z.string().refine((text) => pattern.test(text), { error: (issue) => `must be ${what} (got ${show(issue.input)})` });

/** OVS names that reach an ovs-vsctl/ovs-ofctl argument: no quotes, spaces or leading dash. */
const ovsName = (what: string) =>
  matching(/^[A-Za-z0-9_.][A-Za-z0-9_.:-]{0,254}$/, `a ${what} name of letters, digits, '_', '.', ':' or '-'`);

/** Qualified names as Kubernetes accepts them for annotation and label keys. */
const qualifiedName = matching(
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/,
  'a Kubernetes annotation key such as example.com/name',
);

const commandPath = (tool: string) =>
  z
    .string()
    .refine(isAbsolute, { error: (issue) => `must be an absolute path (got ${show(issue.input)})` })
    .default(`/usr/bin/${tool}`)
    .describe(`The ${tool} binary; run directly, never through a shell.`);

export const mirrorConfigSchema = z
  .strictObject({
    mode: z
      .enum(['ovsdb_mirror', 'openflow', 'none'])
      .default('ovsdb_mirror')
      .describe(
        "ovsdb_mirror: one OVSDB Mirror row selecting the opted-in Pods' ports; openflow: flows under our cookie copying " +
          'both directions to the target and forwarding NORMAL (standalone bridges); none: something else mirrors.',
      ),
    bridge: ovsName('bridge').default('br-int').describe('OVS bridge the Pods are attached to.'),
    target_port: ovsName('port')
      .default('antrea-l7-tap0')
      .describe('Port (on the bridge) that receives the copies: where Suricata listens. l7flow keeps it no-flood.'),
    mirror_name: ovsName('mirror')
      .default('l7flow')
      .describe('Name of the Mirror row (ovsdb_mirror); also the value of its external_ids:l7flow-mirror.'),
    cookie: matching(/^0x(?!0+$)[0-9a-fA-F]{1,16}$/, '0x and 1-16 hex digits, not 0 (the cookie of flows nobody owns)')
      .default('0x6c37666c6f77')
      .describe('Cookie of the flows l7flow installs (openflow): the only flows it ever changes or removes.'),
    priority: z.number().int().min(1).max(65535).default(200).describe('Priority of those flows.'),
    table: z.number().int().min(0).max(253).default(0).describe('OpenFlow table of those flows.'),
    port_external_id_keys: z
      .strictObject({
        name: z.string().min(1).default('pod-name').describe('Interface external_ids key holding the Pod name.'),
        namespace: z
          .string()
          .min(1)
          .default('pod-namespace')
          .describe('Interface external_ids key holding the Pod namespace.'),
      })
      .prefault({})
      .describe("How a Pod is found among the bridge's ports (Antrea sets pod-name and pod-namespace)."),
    resync_period: duration({ min: 1000 })
      .prefault('30s')
      .describe('Full reconcile at least this often, so OVS restarts and outside changes converge.'),
    cleanup_on_exit: z
      .boolean()
      .default(false)
      .describe('Remove the Mirror row and flows at shutdown (off: mirroring continues across restarts).'),
    command_timeout: duration({ min: 100 }).prefault('5s').describe('Time limit of each ovs-vsctl/ovs-ofctl run.'),
    ovs_vsctl_path: commandPath('ovs-vsctl'),
    ovs_ofctl_path: commandPath('ovs-ofctl'),
    rundir: z
      .string()
      .default('')
      .describe('OVS_RUNDIR for the OVS tools, to reach a private instance; "" uses their default.'),
  })
  .describe("The OVS mirror reconciler: copies the opted-in Pods' traffic to the target port.");

export const k8sL7ConfigSchema = z.strictObject({
  node_name: matching(/^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)?$/, 'a Kubernetes node name')
    .default('')
    .describe('This node (the example configs pass ${env:NODE_NAME}); only its Pods are watched. "" watches all Pods.'),
  annotation: qualifiedName
    .default('visibility.antrea.io/l7-export')
    .describe('Opt-in annotation on Pods and Namespaces: ingress, egress or both.'),
  pods: z
    .enum(['kubernetes', 'file'])
    .default('kubernetes')
    .describe('Where Pods come from: the Kubernetes API, or pods_file.'),
  pods_file: z.string().default('').describe('YAML/JSON file of Pods and Namespaces (pods: file); reloaded on change.'),
  kubeconfig: z.string().default('').describe('kubeconfig file (pods: kubernetes); "" uses the in-cluster account.'),
  wait_for_sync: duration()
    .prefault('10s')
    .describe('start() waits this long for the first lists, so early records find their Pods; 0s does not wait.'),
  post_events: z.boolean().default(true).describe('Post a Kubernetes Event on objects with an invalid annotation.'),
  deleted_pod_grace: duration()
    .prefault('60s')
    .describe('A deleted Pod still resolves for this long, for records that arrive late.'),
  max_pods: z
    .number()
    .int()
    .min(1)
    .default(10_000)
    .describe('Most Pods held (and, separately, deleted Pods in their grace period); more are refused and counted.'),
  workload_label: z
    .string()
    .default('')
    .describe('Label whose value names the workload; "" uses the owner (Deployment, StatefulSet, ...).'),
  mirror: mirrorConfigSchema.prefault({}),
});

export type K8sL7Config = z.output<typeof k8sL7ConfigSchema>;
export type MirrorConfig = z.output<typeof mirrorConfigSchema>;

function validate(config: K8sL7Config): string[] {
  const problems: string[] = [];
  if (config.pods === 'file' && config.pods_file === '') problems.push('pods_file: is required when pods is file');
  if (config.pods === 'kubernetes' && config.pods_file !== '')
    problems.push('pods_file: is only read when pods is file');
  if (config.pods === 'file' && config.kubeconfig !== '')
    problems.push('kubeconfig: is only read when pods is kubernetes');
  const keys = config.mirror.port_external_id_keys;
  if (keys.name === keys.namespace) problems.push('mirror.port_external_id_keys: name and namespace must differ');
  return problems;
}

/**
 * Attaches source and destination Pods to L7 events and conntrack samples, drops L7 events
 * of connections not opted in, and keeps the opted-in Pods' ports mirrored to Suricata.
 */
export const k8sL7ProcessorFactory: ProcessorFactory<typeof k8sL7ConfigSchema> = {
  kind: 'processor',
  type: 'k8s_l7',
  configSchema: k8sL7ConfigSchema,
  validate,
  consumes: ['l7', 'conn'],
  produces: ['l7', 'conn'],
  create: (settings, config, next) => new K8sL7Processor(settings, config, next),
};
