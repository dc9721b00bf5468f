"""The receiver's OpenAPI description, served at /openapi.json and checked against the real app by tests."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from receiver.vendors.aerohive import AerohivePayload
from receiver.vendors.engenius import EnGeniusPayload
from receiver.vendors.meraki import MerakiPayloadV2, MerakiPayloadV3

_ERROR = {
    "type": "object",
    "required": ["ok", "status", "error"],
    "properties": {
        "ok": {"type": "boolean", "const": False},
        "status": {"type": "integer"},
        "error": {"type": "string", "description": "What was wrong, in words."},
        "field": {"type": "string", "description": "The payload field at fault, when there is one."},
    },
}
_STORED = {
    "type": "object",
    "required": ["ok", "stored", "duplicates"],
    "properties": {
        "ok": {"type": "boolean", "const": True},
        "stored": {"type": "integer", "minimum": 0},
        "duplicates": {"type": "integer", "minimum": 0},
    },
}


def _responses(*refusals: int) -> dict[str, Any]:
    responses: dict[str, Any] = {
        "200": {
            "description": "Committed.",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Stored"}}},
        }
    }
    for status in refusals:
        responses[str(status)] = {
            "description": {
                400: "Not readable JSON, or a body that cannot be read (malformed chunked encoding, cut off).",
                401: "Missing or wrong signature/secret, or the vendor is not configured.",
                403: "The key or secret is right but not configured for this AP ([[aps]] network / owner).",
                408: "Headers and body did not arrive within PRESENCE_REQUEST_DEADLINE_SECONDS; connection closed.",
                413: "Body over PRESENCE_MAX_BODY_BYTES.",
                422: "Not the vendor's shape, or impossible values.",
                429: "Too many refusals for this client lately (PRESENCE_REFUSAL_LIMIT); posts that verify are served.",
                503: "The database could not store the POST; nothing was stored.",
            }[status],
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
    return responses


def _model_schemas(*models: type[BaseModel]) -> dict[str, Any]:
    """JSON Schemas of the payload models, with their nested definitions hoisted into components."""
    schemas: dict[str, Any] = {}
    for model in models:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    return schemas


def openapi_document() -> dict[str, Any]:
    """OpenAPI 3.1: both ingest endpoints with their payload schemas (from the pydantic models), health, metrics."""
    refusals = (400, 401, 403, 408, 413, 422, 429, 503)
    return {
        "openapi": "3.1.0",
        "info": {"title": "presence-analytics receiver", "version": "1"},
        "paths": {
            "/ingest/engenius": {
                "post": {
                    "summary": "EnGenius Cloud / CloudTrax presence report",
                    "parameters": [
                        {
                            "name": "Signature",
                            "in": "header",
                            "required": True,
                            "description": "HMAC-SHA256 of the raw body under the key, hex or base64.",
                            "schema": {"type": "string"},
                        }
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/EnGeniusPayload"}}},
                    },
                    "responses": _responses(*refusals),
                }
            },
            "/ingest/aerohive": {
                "post": {
                    "summary": "Aerohive / HiveManager presence webhook",
                    "parameters": [
                        {
                            "name": "secret",
                            "in": "query",
                            "required": False,
                            "description": "The shared secret, when it is part of the configured Post URL.",
                            "schema": {"type": "string"},
                        }
                    ],
                    "security": [{"bearer": []}, {"basic": []}, {}],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/AerohivePayload"}}},
                    },
                    "responses": _responses(*refusals),
                }
            },
            "/ingest/meraki": {
                "get": {
                    "summary": "Meraki Scanning API validation: answers PRESENCE_MERAKI_VALIDATOR as plain text",
                    "responses": {
                        "200": {
                            "description": "The validator string.",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        },
                        "401": {
                            "description": "No validator configured.",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                        },
                    },
                },
                "post": {
                    "summary": "Meraki Scanning API v2 (DevicesSeen) or v3 (WiFi); Bluetooth types acknowledged only",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "oneOf": [
                                        {"$ref": "#/components/schemas/MerakiPayloadV2"},
                                        {"$ref": "#/components/schemas/MerakiPayloadV3"},
                                    ]
                                }
                            }
                        },
                    },
                    "responses": _responses(*refusals),
                },
            },
            "/healthz": {
                "get": {
                    "summary": "The receiver and its database answer",
                    "responses": {
                        "200": {"description": "Healthy."},
                        "503": {
                            "description": "Database unreachable.",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                        },
                    },
                }
            },
            "/metrics": {
                "get": {"summary": "Prometheus metrics", "responses": {"200": {"description": "Text format."}}}
            },
        },
        "components": {
            "schemas": {
                "Error": _ERROR,
                "Stored": _STORED,
                **_model_schemas(EnGeniusPayload, AerohivePayload, MerakiPayloadV2, MerakiPayloadV3),
            },
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "basic": {"type": "http", "scheme": "basic"},
            },
        },
    }
