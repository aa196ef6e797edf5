def test_discovery(client):
    resp = client.get("/realms/paris-ile-de-france/.well-known/openid-configuration")
    assert resp.status_code == 200
    assert resp.json["issuer"] == "http://idp.test/realms/paris-ile-de-france"


def test_code_flow(flow, customer, client):
    params = flow.code_flow()
    assert "code" in params, params
    resp = client.post("/realms/paris-ile-de-france/protocol/openid-connect/token", data={
        "grant_type": "authorization_code", "code": params["code"],
        "redirect_uri": "https://rp.example/cb", "client_id": "rp",
        "client_secret": "rp-secret-" + "s" * 40}, headers={})
    print(resp.json)
