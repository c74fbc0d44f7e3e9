"""Structural checks of azure.yaml and infra/, in plain Python.

No Bicep CLI can be installed here, so these tests read the Bicep text with a deliberately small
reader (regexes plus bracket matching) and check what a compiler would not: that parameters,
modules and app settings line up with each other and with the code, that Flex Consumption's
deprecated settings stay out, and that every role assignment uses a documented built-in role.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
MAIN_BICEP = INFRA / "main.bicep"
PARAMETERS_JSON = INFRA / "main.parameters.json"
AZURE_YAML = REPO / "azure.yaml"
LOCAL_SETTINGS = REPO / "local.settings.example.json"
CONFIG_PY = REPO / "shared" / "config.py"
CODE_DIRS = (REPO / "shared", REPO / "functions")

# Built-in role definition ids, checked against Microsoft's built-in roles list and the Azure
# samples. Monitoring Metrics Publisher is 3913510d-42f4-4e42-8a64-420c390055eb (a different
# suffix circulates; it is not a built-in role).
BUILT_IN_ROLES = {
    "Storage Blob Data Owner": "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
    "Storage Blob Data Contributor": "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
    "Storage Queue Data Contributor": "974c5e8b-45b9-4653-ba55-5f855dd0fb88",
    "Storage Table Data Contributor": "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3",
    "Storage Blob Delegator": "db58b8e5-c6ad-4a2a-8342-4190687cbf4a",
    "Monitoring Metrics Publisher": "3913510d-42f4-4e42-8a64-420c390055eb",
    "Key Vault Secrets User": "4633458b-17de-408a-b874-0445c86b69e6",
    "Key Vault Certificates Officer": "a4417e6f-fecd-4de8-b567-7b0420556985",
    "Web PubSub Service Owner": "12cf5a90-567b-43ae-8102-96cf46c7d9b4",
}

# "Flex Consumption plan deprecations" (Azure Functions app settings reference): app settings ...
FLEX_DEPRECATED_SETTINGS = {
    "ENABLE_ORYX_BUILD",
    "FUNCTIONS_EXTENSION_VERSION",
    "FUNCTIONS_WORKER_RUNTIME",
    "FUNCTIONS_WORKER_RUNTIME_VERSION",
    "FUNCTIONS_MAX_HTTP_CONCURRENCY",
    "FUNCTIONS_WORKER_PROCESS_COUNT",
    "FUNCTIONS_WORKER_DYNAMIC_CONCURRENCY_ENABLED",
    "SCM_DO_BUILD_DURING_DEPLOYMENT",
    "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
    "WEBSITE_CONTENTOVERVNET",
    "WEBSITE_CONTENTSHARE",
    "WEBSITE_DNS_SERVER",
    "WEBSITE_MAX_DYNAMIC_APPLICATION_SCALE_OUT",
    "WEBSITE_NODE_DEFAULT_VERSION",
    "WEBSITE_RUN_FROM_PACKAGE",
    "WEBSITE_SKIP_CONTENTSHARE_VALIDATION",
    "WEBSITE_VNET_ROUTE_ALL",
}
# ... and site properties the same table retires (functionAppConfig replaces most of them).
FLEX_DEPRECATED_SITE_PROPERTIES = {
    "alwaysOn",
    "containerSize",
    "ftpsState",
    "functionAppScaleLimit",
    "isReserved",
    "IsXenon",
    "javaVersion",
    "linuxFxVersion",
    "netFrameworkVersion",
    "powerShellVersion",
    "preWarmedInstanceCount",
    "use32BitWorkerProcess",
    "vnetBackupRestoreEnabled",
    "vnetContentShareEnabled",
    "vnetImagePullEnabled",
    "vnetRouteAllEnabled",
    "windowsFxVersion",
}

# Settings only Azure has: identity-based host storage (the AzureWebJobsStorage__* family replaces
# the connection string), telemetry, the Web PubSub endpoint used with the managed identity, and
# the client id DefaultAzureCredential uses to pick the user-assigned identity.
AZURE_ONLY_SETTINGS = {
    "APPLICATIONINSIGHTS_CONNECTION_STRING",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
    "AZURE_CLIENT_ID",
    "WEBPUBSUB_ENDPOINT",
}
AZURE_ONLY_PREFIXES = ("AzureWebJobsStorage__",)
# Settings only a laptop has: connection strings for Azurite and the local Web PubSub hub, and
# what Core Tools needs (Flex declares the worker runtime in functionAppConfig instead).
LOCAL_ONLY_SETTINGS = {
    "AzureWebJobsStorage",
    "WEBPUBSUB_CONNECTION",
    "FUNCTIONS_WORKER_RUNTIME",
    "AzureWebJobsFeatureFlags",
}

GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
# azd substitutions main.parameters.json may use: ${VAR}, ${VAR=default}, $(secretOrRandomPassword).
AZD_VARIABLE = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)(=[^}]*)?\}")
AZD_SECRET_FUNCTION = re.compile(
    r"^\$\(secretOrRandomPassword(?: \$\{([A-Z_][A-Z0-9_]*)\} [\w-]+)?\)$"
)
# An object key at the start of a line: `name:` or `'x-azure-fdid':`.
OBJECT_KEY = re.compile(r"('[^']*'|[A-Za-z_$][\w$]*)\s*:")


# --- A tiny Bicep reader --------------------------------------------------------------------


def blank_out(text: str, *, strings: bool) -> str:
    """text with comments (and, if strings, string contents) replaced by spaces.

    Offsets and newlines are kept, so a position found in the blanked text indexes the original.
    Brackets and keywords inside strings or comments then no longer confuse the regexes.
    """
    out = list(text)

    def clear(start: int, end: int) -> None:
        for i in range(start, end):
            if out[i] != "\n":
                out[i] = " "

    i, n = 0, len(text)
    while i < n:
        if text.startswith("'''", i):  # multi-line string, no escapes
            end = text.find("'''", i + 3)
            end = n if end < 0 else end
            if strings:
                clear(i + 3, end)
            i = end + 3
        elif text[i] == "'":
            j = i + 1
            while j < n and text[j] != "'":
                j += 2 if text[j] == "\\" else 1
            if strings:
                clear(i + 1, j)
            i = j + 1
        elif text.startswith("//", i):
            end = text.find("\n", i)
            end = n if end < 0 else end
            clear(i, end)
            i = end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            clear(i, end)
            i = end
        else:
            i += 1
    return "".join(out)


def matching_close(masked: str, open_at: int) -> int:
    """Index just past the bracket that closes the one at open_at."""
    pairs = {"{": "}", "[": "]", "(": ")"}
    stack = [pairs[masked[open_at]]]
    for i in range(open_at + 1, len(masked)):
        char = masked[i]
        if char in pairs:
            stack.append(pairs[char])
        elif char in ")]}":
            if char != stack.pop():
                raise ValueError(f"unbalanced {char!r} at offset {i}")
            if not stack:
                return i + 1
    raise ValueError(f"unclosed {masked[open_at]!r} at offset {open_at}")


@dataclass(frozen=True)
class BicepFile:
    path: Path
    text: str
    masked: str  # comments and string contents blanked out

    @classmethod
    def read(cls, path: Path) -> BicepFile:
        text = path.read_text()
        return cls(path, text, blank_out(text, strings=True))

    def object_keys(self, open_at: int) -> dict[str, int]:
        """Keys of the object literal whose '{' is at open_at, mapped to where each value starts."""
        close = matching_close(self.masked, open_at)
        keys: dict[str, int] = {}
        depth, line_start = 0, True
        for i in range(open_at, close):
            char = self.masked[i]
            if char in "{[(":
                depth += 1
            elif char in "}])":
                depth -= 1
            elif char == "\n":
                line_start = True
                continue
            if line_start and not char.isspace() and depth == 1:
                match = OBJECT_KEY.match(self.masked, i)
                if match:
                    keys[self.text[match.start(1) : match.end(1)].strip("'")] = match.end()
            if not char.isspace():
                line_start = False
        return keys

    def value_text(self, value_at: int) -> str:
        """Original text of the value at value_at: a bracketed literal or the rest of the line."""
        start = value_at + len(self.masked[value_at:]) - len(self.masked[value_at:].lstrip(" \t"))
        if self.masked[start] in "{[":
            return self.text[start : matching_close(self.masked, start)]
        end = self.masked.find("\n", start)
        return self.text[start : end if end >= 0 else len(self.text)].strip()

    def params(self) -> dict[str, bool]:
        """Declared params mapped to whether they have a default."""
        found = re.finditer(r"^param\s+(\w+)\s+([^\n]*)$", self.masked, re.M)
        return {match[1]: "=" in match[2] for match in found}

    def var_value(self, name: str) -> str:
        match = re.search(rf"^var\s+{name}\s*=\s*", self.masked, re.M)
        assert match, f"{self.path.name}: var {name} not found"
        return self.value_text(match.end())

    def outputs(self) -> set[str]:
        return set(re.findall(r"^output\s+(\w+)\s", self.masked, re.M))

    def declarations(self, keyword: str) -> list[Declaration]:
        """Every `resource` or `module` declaration: name, quoted type or path, header, body."""
        found = []
        pattern = rf"^[ \t]*{keyword}\s+(\w+)\s+'"
        for match in re.finditer(pattern, self.masked, re.M):
            quote_end = self.masked.index("'", match.end())
            target = self.text[match.end() : quote_end]
            body_at = self.masked.index("{", quote_end)
            header = self.text[quote_end + 1 : body_at]
            line = self.text.count("\n", 0, match.start())
            found.append(Declaration(self, match[1], target, header, body_at, line))
        return found


@dataclass(frozen=True)
class Declaration:
    file: BicepFile
    name: str
    target: str  # resource type@version, or module path
    header: str  # between the quoted target and the body: "= if (...)", "= [for x in y:"
    body_at: int  # offset of the body's '{'
    line: int  # zero-based line of the declaration

    def keys(self) -> dict[str, int]:
        return self.file.object_keys(self.body_at)

    def value(self, key: str) -> str:
        keys = self.keys()
        assert key in keys, f"{self.file.path.name}: {self.name} has no {key}"
        return self.file.value_text(keys[key])

    def nested_object(self, key: str) -> dict[str, str]:
        """Keys and value texts of the object literal under key (e.g. a module's params)."""
        brace = self.file.masked.index("{", self.keys()[key])
        return {name: self.file.value_text(at) for name, at in self.file.object_keys(brace).items()}


@cache
def bicep_files() -> tuple[BicepFile, ...]:
    paths = [MAIN_BICEP, *sorted((INFRA / "app").glob("*.bicep"))]
    return tuple(BicepFile.read(path) for path in paths)


def bicep(path: Path) -> BicepFile:
    return next(file for file in bicep_files() if file.path == path)


def resources(type_prefix: str = "") -> list[Declaration]:
    return [
        declaration
        for file in bicep_files()
        for declaration in file.declarations("resource")
        if declaration.target.startswith(type_prefix)
    ]


def function_app_settings() -> dict[str, str]:
    """The Function App's app settings: the keys of the `appsettings` config resource."""
    configs = [
        declaration
        for declaration in resources("Microsoft.Web/sites/config@")
        if declaration.value("name") == "'appsettings'"
    ]
    assert len(configs) == 1, "expected one Microsoft.Web/sites/config 'appsettings' resource"
    return configs[0].nested_object("properties")


# --- What the code and local.settings read --------------------------------------------------


def settings_read_by_code() -> set[str]:
    """Names in shared/config.py Field aliases and in os.environ / os.getenv calls."""
    names = set(re.findall(r'alias="([^"]+)"', CONFIG_PY.read_text()))
    environ = re.compile(
        r"""(?:environ\s*(?:\[\s*|\.get\(\s*|\.setdefault\(\s*)|getenv\(\s*)["']([A-Za-z_]\w*)["']"""
    )
    for directory in CODE_DIRS:
        for path in directory.rglob("*.py"):
            names |= set(environ.findall(path.read_text()))
    return names


def decorator_calls(tree: ast.AST) -> list[tuple[str, list[ast.Call]]]:
    """(function name, decorator calls) for every decorated function in a parsed module."""
    return [
        (node.name, [d for d in node.decorator_list if isinstance(d, ast.Call)])
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    ]


def keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def call_name(call: ast.Call) -> str:
    return call.func.attr if isinstance(call.func, ast.Attribute) else ast.unparse(call.func)


def function_modules() -> list[ast.Module]:
    return [ast.parse(path.read_text()) for path in sorted((REPO / "functions").rglob("*.py"))]


def trigger_connections() -> set[str]:
    """Setting prefixes named by trigger and binding `connection=` arguments in functions/."""
    names: set[str] = set()
    for tree in function_modules():
        for _, calls in decorator_calls(tree):
            for call in calls:
                value = keyword(call, "connection")
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    names.add(value.value)
    return names


def local_settings() -> set[str]:
    return set(json.loads(LOCAL_SETTINGS.read_text())["Values"])


def azure_only(name: str) -> bool:
    return name in AZURE_ONLY_SETTINGS or name.startswith(AZURE_ONLY_PREFIXES)


# --- (a) parameters and modules -------------------------------------------------------------


def test_parameters_file_matches_main_bicep_params() -> None:
    declared = bicep(MAIN_BICEP).params()
    supplied = json.loads(PARAMETERS_JSON.read_text())["parameters"]

    assert set(supplied) <= set(declared), (
        f"unknown params: {sorted(set(supplied) - set(declared))}"
    )
    required = {name for name, has_default in declared.items() if not has_default}
    assert required <= set(supplied), (
        f"required params not supplied: {sorted(required - set(supplied))}"
    )


def test_parameter_values_use_azd_substitution_syntax() -> None:
    outputs = bicep(MAIN_BICEP).outputs()
    for name, entry in json.loads(PARAMETERS_JSON.read_text())["parameters"].items():
        value = entry["value"]
        if not isinstance(value, str) or "$" not in value:
            continue
        if value.startswith("$("):
            match = AZD_SECRET_FUNCTION.match(value)
            assert match, f"{name}: malformed azd function {value!r}"
            # The vault name comes from a previous run's outputs, which azd keeps in its env.
            assert match[1] is None or match[1] in outputs, (
                f"{name}: {match[1]} is not a main.bicep output"
            )
        else:
            assert AZD_VARIABLE.fullmatch(value), (
                f"{name}: {value!r} is not ${{VAR}} or ${{VAR=default}}"
            )


def test_module_calls_satisfy_module_params() -> None:
    main = bicep(MAIN_BICEP)
    called = set()
    for module in main.declarations("module"):
        path = (INFRA / module.target).resolve()
        assert path.exists(), f"module {module.name}: {module.target} does not exist"
        called.add(path)
        declared = bicep(path).params()
        passed = set(module.nested_object("params"))

        assert passed <= set(declared), (
            f"{module.name}: unknown params {sorted(passed - set(declared))}"
        )
        required = {name for name, has_default in declared.items() if not has_default}
        assert required <= passed, f"{module.name}: missing params {sorted(required - passed)}"

    unused = {path.name for path in (INFRA / "app").glob("*.bicep")} - {p.name for p in called}
    assert not unused, f"modules nothing calls: {sorted(unused)}"


def test_module_outputs_used_by_main_bicep_exist() -> None:
    main = bicep(MAIN_BICEP)
    outputs = {
        module.name: bicep((INFRA / module.target).resolve()).outputs()
        for module in main.declarations("module")
    }
    code = blank_out(main.text, strings=False)  # keeps '${...}' interpolations
    for module, output in re.findall(r"\b(\w+)\.outputs\.(\w+)", code):
        assert output in outputs[module], f"main.bicep uses {module}.outputs.{output}"


# --- (b) app settings: code, Bicep and local.settings agree ---------------------------------


def test_every_setting_the_code_reads_is_set_in_azure_and_locally() -> None:
    code = settings_read_by_code()
    in_bicep = set(function_app_settings())
    in_local = local_settings()

    missing_in_bicep = {name for name in code - in_bicep if name not in LOCAL_ONLY_SETTINGS}
    assert not missing_in_bicep, (
        f"read by the code, not set in infra/app: {sorted(missing_in_bicep)}"
    )
    missing_locally = {name for name in code - in_local if not azure_only(name)}
    assert not missing_locally, (
        f"read by the code, not in local.settings: {sorted(missing_locally)}"
    )


def test_every_setting_provided_is_read_by_something() -> None:
    code = settings_read_by_code()
    unread_bicep = {
        name for name in function_app_settings() if name not in code and not azure_only(name)
    }
    assert not unread_bicep, f"set in Bicep, read by nothing: {sorted(unread_bicep)}"
    unread_local = local_settings() - code - LOCAL_ONLY_SETTINGS
    assert not unread_local, f"in local.settings, read by nothing: {sorted(unread_local)}"


def test_azure_only_and_local_only_settings_stay_on_their_side() -> None:
    in_bicep = set(function_app_settings())
    assert not in_bicep & LOCAL_ONLY_SETTINGS, "local-only settings in Bicep"
    assert not {name for name in local_settings() if azure_only(name)}, (
        "Azure-only settings locally"
    )


def test_trigger_connections_resolve_in_azure_and_locally() -> None:
    in_bicep = set(function_app_settings())
    for connection in trigger_connections():
        # Identity-based connections are the <name>__* family; a plain <name> would be a secret.
        assert any(name.startswith(f"{connection}__") for name in in_bicep), connection
        assert connection in local_settings(), connection


# --- (c) Flex Consumption --------------------------------------------------------------------


def test_no_setting_or_property_flex_deprecates() -> None:
    for file in bicep_files():
        code = blank_out(file.text, strings=False)  # comments may name them; code may not
        for name in FLEX_DEPRECATED_SETTINGS:
            assert not re.search(rf"\b{name}\b", code), f"{file.path.name}: {name}"
        for name in FLEX_DEPRECATED_SITE_PROPERTIES:
            assert not re.search(rf"^\s*{name}\s*:", file.masked, re.M), f"{file.path.name}: {name}"


def test_function_app_is_flex_consumption_python_311_with_identity_storage() -> None:
    function = bicep(INFRA / "app" / "function.bicep").text
    assert re.search(r"name: 'FC1'\s+tier: 'FlexConsumption'", function)
    assert re.search(r"runtime: \{\s+name: 'python'\s+version: '3.11'", function)
    for key in ("deployment:", "scaleAndConcurrency:", "maximumInstanceCount:"):
        assert key in function
    settings = function_app_settings()
    assert settings["AzureWebJobsStorage__credential"] == "'managedidentity'"
    assert {"AzureWebJobsStorage__accountName", "AzureWebJobsStorage__clientId"} <= set(settings)
    assert "AzureWebJobsStorage" not in settings, "a connection string would need shared keys"
    storage = bicep(INFRA / "app" / "storage.bicep").text
    assert "allowSharedKeyAccess: false" in storage


# --- (d) role assignments --------------------------------------------------------------------


def role_ids(assignment: Declaration) -> set[str]:
    """Role definition ids an assignment grants: literal, a var, or a var the loop iterates."""
    expression = assignment.value("properties")
    role = re.search(r"roleDefinitionId:\s*(.+)", expression)
    assert role, f"{assignment.name}: no roleDefinitionId"
    ids = set(GUID.findall(role[1]))
    if ids:
        return ids
    # The last identifier: subscriptionResourceId('...roleDefinitions', <identifier>)
    identifier = re.findall(r"(\w+)\)?\s*$", role[1])[0]
    loop = re.search(rf"for\s+{identifier}\s+in\s+(\w+)", assignment.header)
    return set(GUID.findall(assignment.file.var_value(loop[1] if loop else identifier)))


def test_role_assignments_use_documented_built_in_roles() -> None:
    assignments = resources("Microsoft.Authorization/roleAssignments@")
    assert assignments
    known = {role_id.lower(): role for role, role_id in BUILT_IN_ROLES.items()}
    granted: set[str] = set()
    for assignment in assignments:
        ids = {role_id.lower() for role_id in role_ids(assignment)}
        assert ids, f"{assignment.file.path.name}: {assignment.name} grants no resolvable role"
        unknown = ids - set(known)
        assert not unknown, f"{assignment.file.path.name}: {assignment.name} grants {unknown}"
        granted |= ids
    # Every role this design depends on is actually granted somewhere.
    assert granted == set(known), f"never granted: {[known[i] for i in set(known) - granted]}"


def test_role_assignment_names_are_deterministic_guids() -> None:
    for assignment in resources("Microsoft.Authorization/roleAssignments@"):
        name = assignment.value("name")
        assert name.startswith("guid("), f"{assignment.name}: name is {name}"
        # guid(scope, principal, role): re-running never creates a second assignment.
        assert name.count(",") == 2, f"{assignment.name}: expected guid(scope, principal, role)"


# --- (e) comments ----------------------------------------------------------------------------


def test_every_resource_has_a_comment_saying_why() -> None:
    for declaration in resources():
        lines = declaration.file.text.splitlines()[: declaration.line]
        previous = [line.strip() for line in lines if not line.strip().startswith("@")]
        assert previous and previous[-1].startswith("//"), (
            f"{declaration.file.path.name}:{declaration.line + 1}: resource {declaration.name} "
            "needs a // comment on the line above saying why it exists"
        )


# --- (f) azure.yaml --------------------------------------------------------------------------


def azure_yaml_services() -> dict[str, dict[str, str]]:
    """The `services:` mapping of azure.yaml, one level deep (azd's service keys are flat)."""
    services: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    in_services = False
    for raw in AZURE_YAML.read_text().splitlines():
        line = raw.split(" #")[0].rstrip()
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        indent = len(line) - len(line.lstrip())
        if indent == 0:
            in_services = line == "services:"
        elif in_services and indent == 2 and line.endswith(":"):
            current = services.setdefault(line.strip()[:-1], {})
        elif in_services and indent == 4 and current is not None and ":" in line:
            key, value = line.strip().split(":", 1)
            current[key] = value.strip().strip("'\"")
    return services


def test_azure_yaml_deploys_the_python_function_app() -> None:
    services = azure_yaml_services()
    functions = {
        name: service
        for name, service in services.items()
        if service.get("host") == "function" and service.get("language") in {"python", "py"}
    }
    assert functions, f"no service with host: function and language: python in {services}"
    # azd finds the app to deploy a service to by its azd-service-name tag.
    assert "'azd-service-name': serviceName" in bicep(INFRA / "app" / "function.bicep").text
    for name, service in functions.items():
        assert (REPO / service.get("project", ".") / "host.json").exists(), name
        assert f"serviceName: '{name}'" in bicep(MAIN_BICEP).text, name


# --- Cross-checks with the code the infrastructure serves ------------------------------------


def event_grid_blob_triggers() -> dict[str, str]:
    """Function name -> trigger path of every Event Grid blob trigger in functions/.

    The host knows a Python function by its def name unless a function_name decorator renames it.
    """
    triggers = {}
    for tree in function_modules():
        for def_name, calls in decorator_calls(tree):
            blob = [c for c in calls if call_name(c) == "blob_trigger"]
            source = keyword(blob[0], "source") if blob else None
            # source="EventGrid" or source=func.BlobSource.EVENT_GRID
            if source is None or not re.search(r"event_?grid", ast.unparse(source), re.I):
                continue
            renamed = [c for c in calls if call_name(c) == "function_name"]
            name_arg = (renamed[0].args or [keyword(renamed[0], "name")])[0] if renamed else None
            name = name_arg.value if isinstance(name_arg, ast.Constant) else def_name
            path = keyword(blob[0], "path")
            triggers[name] = path.value if isinstance(path, ast.Constant) else ""
    return triggers


def test_uploads_webhook_targets_the_deployed_trigger() -> None:
    triggers = event_grid_blob_triggers()
    if not triggers:
        pytest.skip("no Event Grid blob trigger in functions/ yet")
    main = bicep(MAIN_BICEP)
    default = re.search(r"^param uploadsFunctionName string = '(\w+)'", main.text, re.M)
    assert default, "main.bicep: uploadsFunctionName needs a default"
    assert default[1] in triggers, f"webhook names {default[1]}; triggers are {sorted(triggers)}"
    assert triggers[default[1]].startswith("uploads/"), triggers[default[1]]


# Triggers whose functions Flex Consumption scales together, one group per kind: every other
# trigger gets a scale group (and up to maximumInstanceCount instances) of its own.
GROUPED_TRIGGERS = {"route", "orchestration_trigger", "activity_trigger", "entity_trigger"}
TRIGGERS = re.compile(r"(_trigger|^route)$")


def independently_scaled_functions() -> list[str]:
    names = []
    for tree in function_modules():
        for def_name, calls in decorator_calls(tree):
            triggers = [call for call in calls if TRIGGERS.search(call_name(call))]
            if not triggers or call_name(triggers[0]) in GROUPED_TRIGGERS:
                continue
            source = keyword(triggers[0], "source")
            event_grid = source is not None and re.search(r"event_?grid", ast.unparse(source), re.I)
            if call_name(triggers[0]) == "blob_trigger" and event_grid:
                continue  # blob triggers fed by Event Grid share the blob group
            names.append(def_name)
    return names


def test_the_pool_budget_counts_every_scale_group() -> None:
    main = bicep(MAIN_BICEP)
    independent = independently_scaled_functions()
    assert main.var_value("independentScaleGroups") == str(len(independent)), independent
    assert "maximumInstanceCount * scaleGroups" in main.var_value("databasePoolMax")


def test_conditional_resources_list_keys_only_behind_their_condition() -> None:
    # ARM evaluates list*() in a resource whose `if` is false, and fails when the listed thing
    # does not exist yet; only a `condition ? ... : ...` around the call prevents that.
    for declaration in resources():
        condition = re.search(r"=\s*if\s*\((.+)\)\s*$", declaration.header.strip())
        if not condition:
            continue
        text = blank_out(declaration.file.text, strings=False)
        body = text[
            declaration.body_at : matching_close(declaration.file.masked, declaration.body_at)
        ]
        for line in body.splitlines():
            if re.search(r"\blist\w*\(", line):
                value = line.split(":", 1)[1].strip()
                assert value.startswith(f"{condition[1].strip()} ?"), (
                    f"{declaration.file.path.name}: {declaration.name} calls a list function "
                    f"outside `{condition[1]} ? ... : ...`: {line.strip()}"
                )


def test_azd_down_switches_the_uploads_subscription_off_again() -> None:
    hooks = yaml.safe_load(AZURE_YAML.read_text())["hooks"]
    assert "UPLOADS_EVENTS_ENABLED true" in hooks["postdeploy"]["posix"]["run"]
    for shell in ("posix", "windows"):
        assert "azd env set UPLOADS_EVENTS_ENABLED false" in hooks["postdown"][shell]["run"]


def test_restaurant_domains_reach_every_route_and_the_waf() -> None:
    # Routes and the WAF association take whole domain lists: whatever is not in the template is
    # detached on the next deployment, so restaurants' own domains must be a parameter.
    assert "restaurantDomains: restaurantDomains" in bicep(MAIN_BICEP).text
    frontdoor = bicep(INFRA / "app" / "frontdoor.bicep")
    assert "restaurantDomainIds" in frontdoor.var_value("customDomainIds")
    routes = resources("Microsoft.Cdn/profiles/afdEndpoints/routes@")
    assert routes and all(
        route.nested_object("properties")["customDomains"] == "customDomainIds" for route in routes
    )
    assert "customDomainIds" in frontdoor.text[frontdoor.text.index("resource securityPolicy") :]
    [domains] = [
        d
        for d in resources("Microsoft.Cdn/profiles/customDomains@")
        if d.name == "restaurantDomain"
    ]
    assert "for domain in restaurantDomains" in domains.header
    assert "'ManagedCertificate'" in domains.nested_object("properties")["tlsSettings"]


def test_infra_readme_states_the_pool_size_main_bicep_computes() -> None:
    # Operators size overrides from this table: it must say what main.bicep deploys.
    main = bicep(MAIN_BICEP)
    skus = main.var_value("postgresSkus")
    b1ms = re.search(r"Standard_B1ms:\s*\{[^}]*maxConnections:\s*(\d+)", skus)
    assert b1ms
    reserved = int(main.var_value("postgresReservedConnections"))
    operators = int(main.var_value("operatorConnections"))
    groups = int(main.var_value("sharedScaleGroups")) + int(
        main.var_value("independentScaleGroups")
    )
    instances = int(re.search(r"^param maximumInstanceCount int = (\d+)", main.text, re.M)[1])
    computed = min(20, (int(b1ms[1]) - reserved - operators) // (instances * groups))

    readme = (INFRA / "README.md").read_text()
    row = re.search(r"^\| `DATABASE_POOL_MAX` \|.*?B1ms \+ 3 instances: `(\d+)`", readme, re.M)
    assert row, "infra/README.md: no DATABASE_POOL_MAX row naming the B1ms default"
    assert int(row[1]) == computed, (
        f"infra/README.md says {row[1]} for B1ms + 3 instances; main.bicep computes {computed}"
    )
