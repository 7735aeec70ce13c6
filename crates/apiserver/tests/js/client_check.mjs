// The official JavaScript client (@kubernetes/client-node) against cuttle:
// typed CRUD, the three patch types and server-side apply, the scale
// subresource, errors as Status objects, a watch and an informer.
// Exits non-zero with a message on the first thing that differs from
// Kubernetes. Run by tests/js_client.rs with KUBECONFIG set.
import * as k8s from '@kubernetes/client-node';
import assert from 'node:assert/strict';

const kc = new k8s.KubeConfig();
kc.loadFromDefault();
const core = kc.makeApiClient(k8s.CoreV1Api);
const apps = kc.makeApiClient(k8s.AppsV1Api);
const ns = 'js-check';
const container = { name: 'c', image: 'busybox' };
const patchAs = (type) => k8s.setHeaderOptions('Content-Type', type);

async function status(promise) {
  try {
    await promise;
  } catch (e) {
    return { code: e.code, body: JSON.parse(e.body) };
  }
  assert.fail('the request should have failed');
}

const created = await core.createNamespace({ body: { metadata: { name: ns } } });
assert.equal(created.status.phase, 'Active');

const pod = await core.createNamespacedPod({
  namespace: ns,
  body: { metadata: { name: 'p1', labels: { a: 'b' } }, spec: { containers: [container] } },
});
assert.match(pod.metadata.uid, /^[0-9a-f-]{36}$/);
assert.equal(pod.spec.restartPolicy, 'Always');
assert.equal(pod.status.phase, 'Pending');

const list = await core.listNamespacedPod({ namespace: ns, labelSelector: 'a=b' });
assert.equal(list.items.length, 1);
assert.ok(list.metadata.resourceVersion);

let p = await core.patchNamespacedPod({
  namespace: ns, name: 'p1',
  body: [{ op: 'add', path: '/metadata/labels/json', value: 'patch' }],
});
assert.equal(p.metadata.labels.json, 'patch');
p = await core.patchNamespacedPod(
  { namespace: ns, name: 'p1', body: { metadata: { labels: { merge: 'patch' } } } },
  patchAs(k8s.PatchStrategy.MergePatch));
assert.equal(p.metadata.labels.merge, 'patch');
p = await core.patchNamespacedPod(
  { namespace: ns, name: 'p1', body: { metadata: { labels: { strategic: 'patch' } } } },
  patchAs(k8s.PatchStrategy.StrategicMergePatch));
assert.equal(p.metadata.labels.strategic, 'patch');
p = await core.patchNamespacedPod(
  {
    namespace: ns, name: 'p1', fieldManager: 'js-check', force: true,
    body: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p1', labels: { applied: 'yes' } } },
  },
  patchAs(k8s.PatchStrategy.ServerSideApply));
assert.deepEqual(Object.keys(p.metadata.labels).sort(), ['a', 'applied', 'json', 'merge', 'strategic']);
assert.ok(p.metadata.managedFields.some((m) => m.manager === 'js-check' && m.operation === 'Apply'));

const dep = await apps.createNamespacedDeployment({
  namespace: ns,
  body: {
    metadata: { name: 'd1' },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: 'd' } },
      template: { metadata: { labels: { app: 'd' } }, spec: { containers: [container] } },
    },
  },
});
assert.equal(dep.spec.strategy.type, 'RollingUpdate');
const scale = await apps.replaceNamespacedDeploymentScale({
  namespace: ns, name: 'd1',
  body: { metadata: { name: 'd1', namespace: ns }, spec: { replicas: 5 } },
});
assert.equal(scale.spec.replicas, 5);
assert.equal((await apps.readNamespacedDeployment({ namespace: ns, name: 'd1' })).spec.replicas, 5);

const missing = await status(core.readNamespacedPod({ namespace: ns, name: 'nope' }));
assert.equal(missing.code, 404);
assert.equal(missing.body.reason, 'NotFound');
assert.equal(missing.body.details.name, 'nope');
const invalid = await status(core.createNamespacedPod({
  namespace: ns, body: { metadata: { name: 'Bad_Name' }, spec: { containers: [] } },
}));
assert.equal(invalid.code, 422);
assert.deepEqual(invalid.body.details.causes.map((c) => c.field), ['metadata.name', 'spec.containers']);
const stale = await status(core.replaceNamespacedPod({
  namespace: ns, name: 'p1',
  body: { ...pod, metadata: { ...pod.metadata, resourceVersion: pod.metadata.resourceVersion } },
}));
assert.equal(stale.code, 409);

// A watch from the list's version sees what happens after it, in order.
const seen = [];
const watching = await new k8s.Watch(kc).watch(
  `/api/v1/namespaces/${ns}/pods`,
  { resourceVersion: list.metadata.resourceVersion, allowWatchBookmarks: true },
  (type, obj) => seen.push(`${type} ${obj.metadata.name}`),
  () => {});
await core.createNamespacedPod({ namespace: ns, body: { metadata: { name: 'p2' }, spec: { containers: [container] } } });
await core.deleteNamespacedPod({ namespace: ns, name: 'p2', gracePeriodSeconds: 0 });
for (let i = 0; i < 50 && !seen.includes('DELETED p2'); i++) {
  await new Promise((r) => setTimeout(r, 100));
}
watching.abort();
const p2 = seen.filter((s) => s.endsWith(' p2'));
assert.deepEqual(p2, ['ADDED p2', 'DELETED p2'], `watch saw ${seen.join(', ')}`);

// An informer lists, then follows.
const informer = k8s.makeInformer(kc, `/api/v1/namespaces/${ns}/pods`,
  () => core.listNamespacedPod({ namespace: ns }));
const added = new Set();
informer.on('add', (o) => added.add(o.metadata.name));
await informer.start();
await core.createNamespacedPod({ namespace: ns, body: { metadata: { name: 'p3' }, spec: { containers: [container] } } });
for (let i = 0; i < 50 && !added.has('p3'); i++) {
  await new Promise((r) => setTimeout(r, 100));
}
await informer.stop();
assert.ok(added.has('p1') && added.has('p3'), `informer saw ${[...added].join(', ')}`);

const gone = await core.deleteNamespace({ name: ns });
assert.equal(gone.status.phase, 'Terminating');
console.log('javascript client: all checks passed');
