"""Shared by the control-plane tests: the spin guest, and validating
API responses against docs/openapi.yaml (OpenAPI 3.1, whose
schemas are JSON Schema 2020-12): find the operation by path template and
method, the response by status (or default), and check the body with
jsonschema. $refs are resolved here (the document has no cycles), so that
Debian's python3-jsonschema of any version will do."""
import os
import re
import subprocess
import tempfile

import jsonschema
import yaml


class Spec:
    def __init__(self, path):
        with open(path) as f:
            self.doc = yaml.safe_load(f)
        if not str(self.doc.get('openapi', '')).startswith('3.'):
            raise ValueError(f'{path}: not an OpenAPI 3 document')
        self.prefix = self.doc['servers'][0]['url'].split('localhost', 1)[1]
        self.routes = []
        for tmpl, ops in self.doc['paths'].items():
            rx = '^' + re.sub(r'\{[^}]+\}', '[^/]+', tmpl) + '$'
            self.routes.append((re.compile(rx), tmpl, ops))
        self.checked = 0

    def _resolve(self, node):
        if isinstance(node, dict):
            if '$ref' in node:
                target = self.doc
                for part in node['$ref'].lstrip('#/').split('/'):
                    target = target[part]
                return self._resolve(target)
            return {k: self._resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [self._resolve(v) for v in node]
        return node

    def schema_for(self, method, path, status):
        """The response schema, or raise AssertionError if the document
        does not describe this response at all."""
        if not path.startswith(self.prefix):
            path_in_spec = None
        else:
            path_in_spec = path[len(self.prefix):]
        for rx, tmpl, ops in self.routes:
            if path_in_spec is not None and rx.match(path_in_spec):
                op = ops.get(method.lower())
                if op is None:
                    # A method the path does not have: only an error fits.
                    return self._resolve(self.doc['components']['schemas']['Error'])
                resp = op['responses'].get(str(status)) or op['responses'].get('default')
                if resp is None:
                    raise AssertionError(f'{method} {path}: status {status} not in the spec')
                resp = self._resolve(resp)
                return resp['content']['application/json']['schema']
        # Unknown paths: the answer must be an error.
        return self._resolve(self.doc['components']['schemas']['Error'])

    def validate_schema(self, name, body):
        schema = self._resolve(self.doc['components']['schemas'][name])
        jsonschema.Draft202012Validator(schema).validate(body)
        self.checked += 1

    def validate(self, method, path, status, body):
        schema = self.schema_for(method, path, status)
        if status >= 400:
            schema = self._resolve(self.doc['components']['schemas']['Error'])
        jsonschema.Draft202012Validator(schema).validate(body)
        self.checked += 1


def build_spin(spin_s, prefix):
    """A fresh temporary directory and the spin guest (tests/cluster/spin.S)
    built in it: (dir, elf)."""
    tmp = tempfile.mkdtemp(prefix=prefix)
    spin = os.path.join(tmp, 'spin.elf')
    subprocess.run(['gcc', '-c', spin_s, '-o', spin + '.o'], check=True)
    subprocess.run(['ld', '-Ttext=0x200000', '-Tdata=0x300000', '-e', '_start', '-o', spin,
                    spin + '.o'], check=True)
    return tmp, spin
