import type { MirrorSettings } from '../../processor/k8s_l7/mirror/plan.js';

/** Mirror settings as on an Antrea node (bridge br-int, Antrea's CNI external_ids), for unit tests. */
export const mirrorSettings = (mode: MirrorSettings['mode'] = 'ovsdb_mirror'): MirrorSettings => ({
  mode,
  bridge: 'br-int',
  targetPort: 'antrea-l7-tap0',
  mirrorName: 'l7flow',
  cookie: '0x6c37666c6f77',
  table: 0,
  priority: 200,
  externalIdKeys: { name: 'pod-name', namespace: 'pod-namespace' },
});
