"""What every door (v2, v1, the console) shares, one concept per module.

- ``state``: the objects ``create_app`` builds once and every request reaches.
- ``auth``: who is calling, as one ``Caller`` (API key or console session).
- ``limits`` and ``gcra``: which operation a key is charged for, and the algorithm that counts.
- ``params``: the path parameters of the v2 routes.
- ``bodies``: reading a JSON body into a model, and writing a model as the answer.
- ``problems``: every error a client can cause, answered as problem+json.
- ``middleware``: the request-body size limit.
- ``routing``: the route class every v2 operation is declared with.
"""
