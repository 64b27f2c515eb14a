"""The Estuary Flow capture adapter: `flow-source-gitlab` speaks Flow's capture protocol and runs the tap.

- `protocol`: the JSON-lines transport (requests in, responses out, JSON logs on stderr) and the dispatcher;
- `spec`: the endpoint and resource config schemas, the OAuth2 block, and Flow config → tap config;
- `discovery`: the tap's catalog as Flow bindings (document schemas, keys, sync modes);
- `capture`: the `open` session: the tap as a subprocess, RECORD → captured, STATE → checkpoint.

See docs/flow.md and ../shared/reference/flow-capture-protocol.md.
"""
