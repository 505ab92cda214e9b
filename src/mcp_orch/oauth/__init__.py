"""OAuth 2.1 for remote MCP clients (ChatGPT): what ``orch mcp --http --public-url`` serves.

``store`` keeps clients, grants, codes and tokens (only hashes) in ``.mcp/.secrets/oauth.json``
and is what ``orch auth`` uses (no SDK import); ``urls`` checks the public URL; ``provider``
is the SDK's authorization-server provider over the store, with the consent decision;
``cimd`` fetches Client ID Metadata Documents. The HTTP routes (metadata, consent page) are in
``interfaces/oauth_http.py``. Nothing here is tied to ``orch mcp``: ``orch serve`` can mount it.
"""
