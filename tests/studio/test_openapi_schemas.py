"""The API from its schemas: the OpenAPI document FastAPI generates from the Pydantic models documents
every /v1 answer and body, its video object is the one the openai client reads, and a refused value
names its field from the typed error that refused it."""

import json

import pytest
from openai.types import Video as OpenAIVideo

from kinetoscope import catalog
from kinetoscope.request import GenerationRequest, PipelineConfig, RequestError, check_request

sqlite = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # the document is the same on PostgreSQL


def resolve(doc: dict, schema: dict) -> dict:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def operations(doc: dict):
    for path, ops in doc["paths"].items():
        if path.startswith("/v1/"):
            for method, op in ops.items():
                yield f"{method.upper()} {path}", op


@sqlite
def test_every_v1_answer_and_error_has_a_schema(client):
    doc = client.get("/openapi.json").json()
    ops = dict(operations(doc))
    assert len(ops) >= 35 and "POST /v1/videos" in ops and "GET /v1/me/keys" in ops
    for name, op in ops.items():
        ok = [op["responses"][s] for s in op["responses"] if s.startswith("2")]
        assert ok, f"{name} documents no successful answer"
        for answer in ok:
            assert answer.get("content"), f"{name} documents no content for its answer"
            for media, content in answer["content"].items():
                assert content.get("schema"), f"{name}: {media} answer has no schema"
        assert "422" not in op["responses"], name  # a refused value is a 400 here
        error = op["responses"]["400"]["content"]["application/json"]["schema"]
        assert set(resolve(doc, error)["properties"]) == {"error"}, name


@sqlite
def test_the_video_object_schema_has_what_the_openai_client_reads(client):
    doc = client.get("/openapi.json").json()
    answer = doc["paths"]["/v1/videos/{video_id}"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    video = resolve(doc, answer)
    required = {name for name, f in OpenAIVideo.model_fields.items() if f.is_required()}
    assert required and required <= set(video["required"]), required - set(video["required"])
    assert set(OpenAIVideo.model_fields) <= set(video["properties"])
    ours = {"warnings", "seed", "engine", "queue_position", "eta_seconds", "group_id", "variations", "task", "request"}
    assert ours <= set(video["properties"]) and not ours & set(video["required"])
    statuses = set(OpenAIVideo.model_fields["status"].annotation.__args__)
    assert statuses <= set(video["properties"]["status"]["enum"])
    # every video answer and the list are that object
    for name in ("POST /v1/videos", "POST /v1/videos/{video_id}/remix", "POST /v1/videos/extensions",
                 "POST /v1/videos/edits", "POST /v1/videos/{video_id}/cancel", "POST /v1/videos/remixes"):
        method, path = name.split(" ")
        schema = doc["paths"][path][method.lower()]["responses"]["200"]["content"]["application/json"]["schema"]
        assert resolve(doc, schema) == video, name
    listing = resolve(doc, doc["paths"]["/v1/videos"]["get"]["responses"]["200"]["content"]["application/json"]["schema"])
    assert resolve(doc, listing["properties"]["data"]["items"]) == video


@sqlite
def test_create_bodies_are_generated_from_the_task_table(client):
    doc = client.get("/openapi.json").json()
    content = doc["paths"]["/v1/videos"]["post"]["requestBody"]["content"]
    assert set(content) == {"application/json", "multipart/form-data"}
    as_json, as_form = (resolve(doc, content[m]["schema"]) for m in ("application/json", "multipart/form-data"))
    enum = [s for s in as_json["properties"]["task"]["anyOf"] if "enum" in s][0]["enum"]
    assert enum == list(catalog.studio_tasks())
    transition = [s for s in as_json["properties"]["transition"]["anyOf"] if "enum" in s][0]["enum"]
    assert transition == list(catalog.TRANSITIONS)
    assert {"type": "string", "format": "binary"} in as_form["properties"]["input_reference"]["anyOf"]
    assert "binary" not in json.dumps(as_json["properties"]["input_reference"])
    for path in ("/v1/videos/characters", "/v1/verify", "/v1/videos/remixes"):  # uploads: multipart
        assert "multipart/form-data" in doc["paths"][path]["post"]["requestBody"]["content"], path


@pytest.mark.parametrize("request_,field", [
    (GenerationRequest(prompt=""), "prompt"),
    (GenerationRequest(prompt="a", width=100), "width"),
    (GenerationRequest(prompt="a", seconds=999.0), "seconds"),
    (GenerationRequest(prompt="a", steps=0), "steps"),
    (GenerationRequest(prompt="a", negative_prompt="x" * 5000), "negative_prompt"),
    (GenerationRequest(prompt="a", sampler="nope"), "sampler"),
])
def test_a_refused_request_carries_its_field(request_, field):
    with pytest.raises(RequestError) as e:
        check_request(request_, PipelineConfig(), samplers=("euler",))
    assert e.value.field == field


@sqlite
@pytest.mark.parametrize("body,param,fragment", [
    ({"prompt": "a ball", "sampler": "nope"}, "sampler", "'nope' is not allowed"),  # the engine's check: its field
    ({"prompt": "a ball", "size": "32x100"}, "size", "height 100"),  # a request field, by the API's name for it
    ({"prompt": "a ball", "fps": 0}, "fps", "fps 0 is out of range: allowed"),  # the schema's check, same words
    ({"prompt": "a ball", "steps": "many"}, "steps", "steps must be an integer, got 'many'"),
    ({"prompt": "a ball", "task": "dance"}, "task", "task 'dance' is not allowed"),
    ({"task": "storyboard", "shots": "0s a", "transition": "wipe"}, "transition", "'wipe' is not allowed"),
    ({"task": "storyboard", "shots": "0s a\n3s b", "seconds": "2"}, "seconds", "beyond the video's length"),
])
def test_the_api_names_the_field_its_typed_error_carries(client, body, param, fragment):
    r = client.post("/v1/videos", json={"size": "32x32", **body})
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["param"] == param and fragment in err["message"], err
    assert client.get("/v1/videos").json()["data"] == []


def test_no_hand_written_openapi_dict_and_no_message_parsing():
    from pathlib import Path

    import kinetoscope

    root = Path(kinetoscope.__file__).parent / "studio"
    for path in root.rglob("*.py"):
        text = path.read_text()
        assert '"requestBody": {"required": True, "content": {"multipart' not in text, path
        assert '"properties": {' not in text, path  # JSON Schema comes from the Pydantic models
        assert "str(e).startswith" not in text and 'in str(e)' not in text, path
        assert len(text.splitlines()) <= 420, f"{path} has {len(text.splitlines())} lines"
