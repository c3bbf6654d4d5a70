"""A proto-JSON reader for request bodies: unknown names and wrong types answer 400 like the service.

The service parses every body into its protobuf messages; a field it does not know, or a value of
the wrong type, is refused before anything else runs, with every violation listed. The tables
below are the request messages of the Gemini Developer API (v1beta) as far as gembatch's users
send them. Either spelling of a name is accepted (``thinking_budget`` or ``thinkingBudget``), as
the service's parser does; paths in messages use the proto (snake_case) names.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from gembatch.emulator._errors import ApiError

__all__ = ["MESSAGES", "read_message"]

_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1beta."
_INT32 = (-(2**31), 2**31 - 1)

# Field specs: "string", "int32", "int64", "float", "bool", "bytes", "any" (a Struct or Value:
# anything goes), "enum:Name", a message name, "[spec]" for a repeated field, "{spec}" for a map.
MESSAGES: dict[str, dict[str, str]] = {
    "GenerateContentRequest": {
        "model": "string",
        "systemInstruction": "Content",
        "contents": "[Content]",
        "tools": "[Tool]",
        "toolConfig": "ToolConfig",
        "safetySettings": "[SafetySetting]",
        "generationConfig": "GenerationConfig",
        "cachedContent": "string",
        "serviceTier": "string",
        "store": "bool",
        "labels": "any",
    },
    "Content": {"parts": "[Part]", "role": "string"},
    "Part": {
        "text": "string",
        "inlineData": "Blob",
        "functionCall": "FunctionCall",
        "functionResponse": "FunctionResponse",
        "fileData": "FileData",
        "executableCode": "ExecutableCode",
        "codeExecutionResult": "CodeExecutionResult",
        "videoMetadata": "VideoMetadata",
        "thought": "bool",
        "thoughtSignature": "bytes",
        "partMetadata": "any",
        "mediaResolution": "any",
        "toolCall": "any",
        "toolResponse": "any",
        "mediaProcessing": "any",
        "audioTranscription": "any",
        "audioMetadata": "any",
        "speechMetadata": "any",
        "documentMetadata": "any",
        "spreadsheetMetadata": "any",
    },
    "Blob": {"mimeType": "string", "data": "bytes"},
    "FileData": {"mimeType": "string", "fileUri": "string"},
    "FunctionCall": {
        "id": "string",
        "name": "string",
        "args": "any",
        "partialArgs": "[any]",
        "willContinue": "bool",
    },
    "FunctionResponse": {
        "id": "string",
        "name": "string",
        "response": "any",
        "parts": "[any]",
        "willContinue": "bool",
        "scheduling": "enum:Scheduling",
    },
    "ExecutableCode": {"id": "string", "language": "enum:Language", "code": "string"},
    "CodeExecutionResult": {"id": "string", "outcome": "enum:Outcome", "output": "string"},
    "VideoMetadata": {"startOffset": "string", "endOffset": "string", "fps": "float"},
    "Tool": {
        "functionDeclarations": "[FunctionDeclaration]",
        "googleSearchRetrieval": "any",
        "codeExecution": "any",
        "googleSearch": "any",
        "urlContext": "any",
        "computerUse": "any",
        "fileSearch": "FileSearch",
        "googleMaps": "any",
        "mcpServers": "[any]",
    },
    "FileSearch": {
        "fileSearchStoreNames": "[string]",
        "metadataFilter": "string",
        "topK": "int32",
    },
    "FunctionDeclaration": {
        "name": "string",
        "description": "string",
        "behavior": "enum:Behavior",
        "parameters": "Schema",
        "parametersJsonSchema": "any",
        "response": "Schema",
        "responseJsonSchema": "any",
    },
    "ToolConfig": {
        "functionCallingConfig": "FunctionCallingConfig",
        "retrievalConfig": "any",
        "includeServerSideToolInvocations": "bool",
    },
    "FunctionCallingConfig": {
        "mode": "enum:Mode",
        "allowedFunctionNames": "[string]",
        "streamFunctionCallArguments": "bool",
    },
    "SafetySetting": {"category": "enum:HarmCategory", "threshold": "enum:HarmBlockThreshold"},
    "GenerationConfig": {
        "candidateCount": "int32",
        "stopSequences": "[string]",
        "maxOutputTokens": "int32",
        "temperature": "float",
        "topP": "float",
        "topK": "int32",
        "seed": "int32",
        "responseMimeType": "string",
        "responseSchema": "Schema",
        "responseJsonSchema": "any",
        "_responseJsonSchema": "any",
        "presencePenalty": "float",
        "frequencyPenalty": "float",
        "responseLogprobs": "bool",
        "logprobs": "int32",
        "enableEnhancedCivicAnswers": "bool",
        "responseModalities": "[enum:Modality]",
        "speechConfig": "any",
        "thinkingConfig": "ThinkingConfig",
        "imageConfig": "any",
        "mediaResolution": "enum:MediaResolution",
    },
    "ThinkingConfig": {
        "includeThoughts": "bool",
        "thinkingBudget": "int32",
        "thinkingLevel": "enum:ThinkingLevel",
    },
    "Schema": {
        "type": "enum:Type",
        "format": "string",
        "title": "string",
        "description": "string",
        "nullable": "bool",
        "enum": "[string]",
        "maxItems": "int64",
        "minItems": "int64",
        "properties": "{Schema}",
        "required": "[string]",
        "minProperties": "int64",
        "maxProperties": "int64",
        "minLength": "int64",
        "maxLength": "int64",
        "pattern": "string",
        "example": "any",
        "anyOf": "[Schema]",
        "propertyOrdering": "[string]",
        "default": "any",
        "items": "Schema",
        "minimum": "float",
        "maximum": "float",
    },
    "CountTokensRequest": {
        "model": "string",
        "contents": "[Content]",
        "generateContentRequest": "GenerateContentRequest",
    },
    "EmbedContentRequest": {
        "model": "string",
        "content": "Content",
        "taskType": "enum:TaskType",
        "title": "string",
        "outputDimensionality": "int32",
    },
    "BatchEmbedContentsRequest": {"requests": "[EmbedContentRequest]"},
    "BatchGenerateContentRequest": {"batch": "GenerateContentBatch"},
    "GenerateContentBatch": {
        "model": "string",
        "name": "string",
        "displayName": "string",
        "inputConfig": "InputConfig",
        "output": "any",
        "createTime": "string",
        "endTime": "string",
        "updateTime": "string",
        "batchStats": "any",
        "state": "string",
        "priority": "int64",
        "webhookConfig": "any",
    },
    "InputConfig": {"fileName": "string", "requests": "InlinedRequests"},
    "InlinedRequests": {"requests": "[InlinedRequest]"},
    "InlinedRequest": {"request": "GenerateContentRequest", "metadata": "any"},
    "AsyncBatchEmbedContentRequest": {"batch": "EmbedContentBatch"},
    "EmbedContentBatch": {
        "model": "string",
        "name": "string",
        "displayName": "string",
        "inputConfig": "EmbedInputConfig",
        "output": "any",
        "createTime": "string",
        "endTime": "string",
        "updateTime": "string",
        "batchStats": "any",
        "state": "string",
        "priority": "int64",
        "webhookConfig": "any",
    },
    "EmbedInputConfig": {"fileName": "string", "requests": "InlinedEmbedRequests"},
    "InlinedEmbedRequests": {"requests": "[InlinedEmbedRequest]"},
    "InlinedEmbedRequest": {"request": "EmbedContentRequest", "metadata": "any"},
    "CreateFileRequest": {"file": "File"},
    "File": {
        "name": "string",
        "displayName": "string",
        "mimeType": "string",
        "sizeBytes": "int64",
        "createTime": "string",
        "updateTime": "string",
        "expirationTime": "string",
        "sha256Hash": "bytes",
        "uri": "string",
        "downloadUri": "string",
        "state": "string",
        "source": "string",
        "error": "any",
        "videoMetadata": "any",
    },
    # A batch line of an input file: the request plus the user's key (or metadata).
    "BatchLine": {"key": "any", "request": "GenerateContentRequest", "metadata": "any"},
    "EmbedBatchLine": {"key": "any", "request": "EmbedContentRequest", "metadata": "any"},
}

ENUMS: dict[str, frozenset[str]] = {
    name: frozenset(values.split())
    for name, values in {
        "Type": "TYPE_UNSPECIFIED STRING NUMBER INTEGER BOOLEAN ARRAY OBJECT NULL",
        "ThinkingLevel": "THINKING_LEVEL_UNSPECIFIED MINIMAL LOW MEDIUM HIGH",
        "MediaResolution": "MEDIA_RESOLUTION_UNSPECIFIED MEDIA_RESOLUTION_LOW MEDIA_RESOLUTION_MEDIUM "
        "MEDIA_RESOLUTION_HIGH MEDIA_RESOLUTION_ULTRA_HIGH",
        "Modality": "MODALITY_UNSPECIFIED TEXT IMAGE AUDIO VIDEO",
        "TaskType": "TASK_TYPE_UNSPECIFIED RETRIEVAL_QUERY RETRIEVAL_DOCUMENT SEMANTIC_SIMILARITY "
        "CLASSIFICATION CLUSTERING QUESTION_ANSWERING FACT_VERIFICATION CODE_RETRIEVAL_QUERY",
        "HarmCategory": "HARM_CATEGORY_UNSPECIFIED HARM_CATEGORY_DEROGATORY HARM_CATEGORY_TOXICITY "
        "HARM_CATEGORY_VIOLENCE HARM_CATEGORY_SEXUAL HARM_CATEGORY_MEDICAL HARM_CATEGORY_DANGEROUS "
        "HARM_CATEGORY_HARASSMENT HARM_CATEGORY_HATE_SPEECH HARM_CATEGORY_SEXUALLY_EXPLICIT "
        "HARM_CATEGORY_DANGEROUS_CONTENT HARM_CATEGORY_CIVIC_INTEGRITY",
        "HarmBlockThreshold": "HARM_BLOCK_THRESHOLD_UNSPECIFIED BLOCK_LOW_AND_ABOVE "
        "BLOCK_MEDIUM_AND_ABOVE BLOCK_ONLY_HIGH BLOCK_NONE OFF",
        "Mode": "MODE_UNSPECIFIED AUTO ANY NONE VALIDATED",
        "Behavior": "UNSPECIFIED BLOCKING NON_BLOCKING",
        "Scheduling": "SCHEDULING_UNSPECIFIED SILENT WHEN_IDLE INTERRUPT",
        "Language": "LANGUAGE_UNSPECIFIED PYTHON",
        "Outcome": "OUTCOME_UNSPECIFIED OUTCOME_OK OUTCOME_FAILED OUTCOME_DEADLINE_EXCEEDED",
    }.items()
}

_SCALAR_TYPES = {
    "string": "TYPE_STRING",
    "int32": "TYPE_INT32",
    "int64": "TYPE_INT64",
    "float": "TYPE_FLOAT",
    "bool": "TYPE_BOOL",
    "bytes": "TYPE_BYTES",
}
_CAMEL = re.compile(r"_([a-z0-9])")
_SNAKE = re.compile(r"(?<!^)(?=[A-Z])")
_BASE64 = re.compile(r"^[A-Za-z0-9+/\-_]*={0,2}$")


def _camel(name: str) -> str:
    return name if name.startswith("_") else _CAMEL.sub(lambda m: m.group(1).upper(), name)


def _snake(name: str) -> str:
    return _SNAKE.sub("_", name.lstrip("_")).lower()


class _Reader:
    """Walks one body, collecting every violation like the service's parser."""

    def __init__(self) -> None:
        self.problems: list[tuple[str, str]] = []

    def fail(self, path: str, message: str) -> None:
        self.problems.append((path, message))

    def message(self, name: str, value: Any, path: str) -> Any:
        if not isinstance(value, dict):
            self.fail(path, f"Invalid value at '{path}' ({_TYPE}{name}), {_show(value)}")
            return None
        fields = MESSAGES[name]
        out: dict[str, Any] = {}
        for key, item in value.items():
            name_in = _camel(key) if isinstance(key, str) else key
            spec = fields.get(name_in)
            if spec is None:
                where = f" at '{path}'" if path else ""
                self.fail(
                    path, f'Invalid JSON payload received. Unknown name "{key}"{where}: Cannot find field.'
                )
                continue
            if item is None:  # proto-JSON reads null as "not set"
                continue
            child = f"{path}.{_snake(name_in)}" if path else _snake(name_in)
            out[name_in.lstrip("_")] = self.field(spec, item, child, key)
        return out

    def field(self, spec: str, value: Any, path: str, key: str) -> Any:
        if spec.startswith("["):
            inner = spec[1:-1]
            if not isinstance(value, list):
                return [self.value(inner, value, path)]
            return [self.value(inner, item, f"{path}[{i}]") for i, item in enumerate(value)]
        if isinstance(value, list) and spec != "any":
            parent, _, _leaf = path.rpartition(".")
            where = f" at '{parent}'" if parent else ""
            self.fail(
                parent,
                f'Invalid JSON payload received. Unknown name "{key}"{where}: '
                "Proto field is not repeating, cannot start list.",
            )
            return None
        if spec.startswith("{"):
            inner = spec[1:-1]
            if not isinstance(value, dict):
                self.fail(path, f"Invalid value at '{path}' (map), {_show(value)}")
                return None
            return {k: self.value(inner, v, f"{path}[{i}].value") for i, (k, v) in enumerate(value.items())}
        return self.value(spec, value, path)

    def value(self, spec: str, value: Any, path: str) -> Any:
        if spec == "any":
            return value
        if spec in MESSAGES:
            return self.message(spec, value, path)
        if spec.startswith("enum:"):
            return self.enum(spec[5:], value, path)
        return self.scalar(spec, value, path)

    def enum(self, name: str, value: Any, path: str) -> Any:
        allowed = ENUMS[name]
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(allowed):
            return value
        if isinstance(value, str) and value.upper() in allowed:
            return value.upper()
        self.fail(path, f"Invalid value at '{path}' ({_TYPE}{name}), {_show(value)}")
        return None

    def scalar(self, kind: str, value: Any, path: str) -> Any:
        bad = f"Invalid value at '{path}' ({_SCALAR_TYPES[kind]}), {_show(value)}"
        if kind == "string":
            if isinstance(value, str):
                return value
        elif kind == "bool":
            if isinstance(value, bool):
                return value
        elif kind in ("int32", "int64"):
            number = _integer(value)
            if number is not None and (kind == "int64" or _INT32[0] <= number <= _INT32[1]):
                return number
        elif kind == "float":
            if isinstance(value, int | float) and not isinstance(value, bool):
                return value
            if isinstance(value, str):
                try:
                    return float(value)
                except ValueError:
                    pass
        elif kind == "bytes":
            if isinstance(value, str) and _BASE64.match(value) and _decodes(value):
                return value
            if isinstance(value, str):
                bad = f"Invalid value at '{path}' (TYPE_BYTES), Base64 decoding failed for {_show(value)}"
        self.fail(path, bad)
        return None


def _integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return None
    return None


def _decodes(text: str) -> bool:
    padded = text + "=" * (-len(text) % 4)
    try:
        base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "..."


def read_message(name: str, body: Any, path: str = "") -> dict[str, Any]:
    """``body`` read as message ``name``: camelCase keys, nulls dropped; raises 400 on any violation.

    Examples
    --------
    >>> read_message("ThinkingConfig", {"thinking_budget": 0})
    {'thinkingBudget': 0}
    """
    reader = _Reader()
    out = reader.message(name, body, path)
    if reader.problems:
        raise ApiError(
            400,
            "\n".join(message for _, message in reader.problems),
            details=[
                {
                    "@type": "type.googleapis.com/google.rpc.BadRequest",
                    "fieldViolations": [
                        ({"field": where} if where else {}) | {"description": message}
                        for where, message in reader.problems
                    ],
                }
            ],
        )
    return out if isinstance(out, dict) else {}
