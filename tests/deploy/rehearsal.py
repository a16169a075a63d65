"""The deploy rehearsal's parts: moto's server on loopback recording the CreateChangeSet requests
SAM CLI sends, the deploy commands the docs and samconfig.toml name, SAM CLI itself (stock, from
.venv-sam) run on a private copy of the build, and what CloudFormation would make of what it received
(aws-sam-translator, which moto does not run)."""

from __future__ import annotations

import io
import json
import os
import re
import select
import shlex
import subprocess
import threading
import time
import tomllib
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support import ROOT

SAM = ROOT / ".venv-sam" / "bin" / "sam"
SAM_PYTHON = ROOT / ".venv-sam" / "bin" / "python"
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
REGION = "us-east-1"
MANAGED_STACK = "aws-sam-cli-managed-default"  # the stack `resolve_s3 = true` keeps SAM CLI's bucket in


# --- moto's server, recording what CloudFormation receives ------------------------------------


class RecordingMoto:
    """moto's own WSGI app on 127.0.0.1, behind a middleware that keeps the form of every
    CloudFormation CreateChangeSet request (the call `sam deploy` ends with): the request as sent,
    read before moto parses it, so what moto does not model is still seen."""

    def __init__(self) -> None:
        import logging

        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
        from werkzeug.serving import make_server

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self.change_sets: list[dict[str, list[str]]] = []
        self._lock = threading.Lock()
        app = DomainDispatcherApplication(create_backend_app)
        self._server = make_server("127.0.0.1", 0, self._recording(app), True, request_handler=MotoRequestHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _recording(self, app: Callable[..., Any]) -> Callable[..., Any]:
        def middleware(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
            if environ.get("REQUEST_METHOD") == "POST" and environ.get("PATH_INFO", "/") == "/":
                body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
                environ["wsgi.input"] = io.BytesIO(body)
                form = urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
                if form.get("Action") == ["CreateChangeSet"] and form.get("StackName") != [MANAGED_STACK]:
                    with self._lock:
                        self.change_sets.append(form)
            return app(environ, start_response)

        return middleware

    def start(self) -> RecordingMoto:
        self._thread.start()
        urllib.request.urlopen(urllib.request.Request(f"{self.url}/moto-api/reset", method="POST"), timeout=10).read()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    @property
    def endpoint_for_sam(self) -> str:
        """What SAM CLI is pointed at. `localhost`, not 127.0.0.1: SAM CLI passes CloudFormation a
        path-style TemplateURL on this endpoint, and moto reads a path-style URL only on a host
        named localhost (moto/cloudformation/utils.py, get_stack_from_s3_url)."""
        return f"http://localhost:{self._server.server_port}"

    def client(self, service: str) -> Any:
        import boto3

        return boto3.client(
            service, endpoint_url=self.url, region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
        )

    def bootstrap_sam_cli(self) -> None:
        """The bucket stack SAM CLI makes on an account's first `resolve_s3` deploy, made with
        CreateStack: SAM CLI makes it through a change set, whose execution moto gives no Outputs,
        and SAM CLI then refuses the stack as not its own. Same template (SAM CLI's), same tag."""
        template = subprocess.run(
            [str(SAM_PYTHON), "-c", "from samcli.lib.bootstrap.bootstrap import _get_stack_template as t; print(t())"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        self.client("cloudformation").create_stack(
            StackName=MANAGED_STACK,
            TemplateBody=template,
            Tags=[{"Key": "ManagedStackSource", "Value": "AwsSamCli"}],
            Capabilities=["CAPABILITY_IAM"],
        )

    def forget(self, stack_name: str) -> None:
        """Each command deploys a first time: a stack moto holds in review would turn the next
        command's CREATE into an UPDATE of nothing."""
        self.client("cloudformation").delete_stack(StackName=stack_name)
        with self._lock:
            self.change_sets.clear()

    def taken(self) -> list[dict[str, list[str]]]:
        with self._lock:
            taken, self.change_sets = self.change_sets, []
        return taken


@dataclass(frozen=True)
class Received:
    """One CreateChangeSet request, as CloudFormation got it."""

    stack_name: str
    change_set_type: str
    parameters: dict[str, str]
    previous: frozenset[str]  # parameters sent as UsePreviousValue
    template_url: str
    capabilities: tuple[str, ...]

    @classmethod
    def parse(cls, form: dict[str, list[str]]) -> Received:
        one = {key: values[0] for key, values in form.items()}
        parameters: dict[str, str] = {}
        previous = set()
        for key, value in one.items():
            match = re.fullmatch(r"Parameters\.member\.(\d+)\.ParameterKey", key)
            if match:
                n = match[1]
                if one.get(f"Parameters.member.{n}.UsePreviousValue") == "true":
                    previous.add(value)
                else:
                    parameters[value] = one.get(f"Parameters.member.{n}.ParameterValue", "")
        capabilities = tuple(v for k, v in sorted(one.items()) if k.startswith("Capabilities.member."))
        return cls(
            stack_name=one["StackName"],
            change_set_type=one.get("ChangeSetType", "UPDATE"),
            parameters=parameters,
            previous=frozenset(previous),
            template_url=one.get("TemplateURL", ""),
            capabilities=capabilities,
        )

    def template(self, moto: RecordingMoto) -> dict[str, Any]:
        """The template the TemplateURL names, read back from moto's S3 (what SAM CLI uploaded)."""
        from cfnlint.decode.cfn_yaml import loads as cfn_yaml

        bucket, key = urllib.parse.urlsplit(self.template_url).path.lstrip("/").split("/", 1)
        text = moto.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode()
        document: dict[str, Any] = json.loads(json.dumps(cfn_yaml(text)))
        return document


# --- the commands: samconfig environments and every `sam deploy` the docs show ----------------


def samconfig() -> dict[str, Any]:
    return tomllib.loads((ROOT / "samconfig.toml").read_text())


def deploy_environments() -> list[str]:
    return [name for name, env in samconfig().items() if isinstance(env, dict) and "deploy" in env]


def overrides_of(text: str) -> dict[str, str]:
    """``Key="value" Other=value`` (samconfig's and the command line's form) as a mapping."""
    pairs = [token.partition("=") for token in shlex.split(text)]
    return {key: value for key, _, value in pairs}


@dataclass(frozen=True)
class DeployCommand:
    text: str  # as documented
    where: tuple[str, ...]  # the files (or samconfig environment) naming it

    @property
    def argv(self) -> list[str]:
        return shlex.split(self.text)

    def option(self, name: str) -> str | None:
        argv = self.argv
        return argv[argv.index(name) + 1] if name in argv and argv.index(name) + 1 < len(argv) else None

    @property
    def guided(self) -> bool:
        return "--guided" in self.argv

    @property
    def config_env(self) -> str:
        return self.option("--config-env") or "default"

    def command_line_overrides(self) -> dict[str, str] | None:
        argv = self.argv
        if "--parameter-overrides" not in argv:
            return None
        values = []
        for token in argv[argv.index("--parameter-overrides") + 1 :]:
            if token.startswith("--"):
                break
            values.append(token)
        return overrides_of(" ".join(shlex.quote(v) for v in values))

    def environment(self) -> dict[str, Any]:
        env: dict[str, Any] = samconfig().get(self.config_env, {})
        return {**env.get("global", {}).get("parameters", {}), **env.get("deploy", {}).get("parameters", {})}

    def expected_stack(self) -> str:
        return self.option("--stack-name") or str(self.environment().get("stack_name", "sam-app"))

    def expected_overrides(self) -> dict[str, str]:
        """What the command means to deploy: its environment's settings, and what it adds to them."""
        return {**overrides_of(str(self.environment().get("parameter_overrides", ""))), **(self.command_line_overrides() or {})}


_DEPLOY = re.compile(r"sam deploy(?:[ \t]+[^\s#;&|`)]+)*")


def _commands_in(code: str) -> list[str]:
    joined = re.sub(r"\\\n\s*", " ", code)
    return [" ".join(match.split()) for match in _DEPLOY.findall(joined)]


def documented_commands() -> list[DeployCommand]:
    """Every `sam deploy` in the README and docs/**/*.md: in fenced code (comments included) and
    in inline code, so a command cannot be shown without being rehearsed."""
    found: dict[str, list[str]] = {}
    for path in DOCS:
        text = path.read_text()
        name = str(path.relative_to(ROOT))
        fences = re.compile(r"^[ \t]*```[^\n]*\n(.*?)^[ \t]*```", re.M | re.S)  # in list items too
        for block in fences.findall(text):
            for command in _commands_in(block):
                found.setdefault(command, []).append(name)
        for span in re.findall(r"`([^`]+)`", fences.sub("", text)):  # inline code, across a line break too
            for command in _commands_in(span.replace("\n", " ")):
                found.setdefault(command, []).append(name)
    return [DeployCommand(text, tuple(dict.fromkeys(where))) for text, where in found.items()]


def all_commands() -> list[DeployCommand]:
    """Each samconfig environment's own command, then the documented ones (each once)."""
    commands = {
        ("sam deploy" if env == "default" else f"sam deploy --config-env {env}"): DeployCommand(
            "sam deploy" if env == "default" else f"sam deploy --config-env {env}", (f"samconfig.toml [{env}]",)
        )
        for env in deploy_environments()
    }
    for command in documented_commands():
        if command.text in commands:
            command = DeployCommand(command.text, commands[command.text].where + command.where)
        commands[command.text] = command
    return list(commands.values())


# --- SAM CLI, run on a private copy of the build ------------------------------------------------


@dataclass
class Project:
    """What `sam deploy` reads in a project folder: samconfig.toml (the shipped one, byte for byte)
    and .aws-sam/build (a snapshot of this run's `sam build`, which another build cannot rewrite)."""

    folder: Path
    build: Path
    moto: RecordingMoto
    home: Path = field(init=False)

    def __post_init__(self) -> None:
        (self.folder / ".aws-sam").mkdir(parents=True, exist_ok=True)
        (self.folder / ".aws-sam" / "build").symlink_to(self.build, target_is_directory=True)
        (self.folder / "samconfig.toml").write_bytes((ROOT / "samconfig.toml").read_bytes())
        self.home = self.folder / "home"
        self.home.mkdir()

    def environ(self) -> dict[str, str]:
        """Dummy credentials and moto's endpoint; no profile, config file or real account reachable."""
        return {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(self.home),
            "LANG": "C.UTF-8",
            "AWS_ENDPOINT_URL": self.moto.endpoint_for_sam,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_CONFIG_FILE": str(self.home / "no-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(self.home / "no-credentials"),
            "AWS_EC2_METADATA_DISABLED": "true",
            "SAM_CLI_TELEMETRY": "0",
            "SAM_CLI_POLL_DELAY": "1",
        }

    def argv(self, command: DeployCommand) -> list[str]:
        assert command.argv[:2] == ["sam", "deploy"], command.text
        return [str(SAM), *command.argv[1:], "--no-execute-changeset", "--no-progressbar"]

    def deploy(self, command: DeployCommand, *, timeout: float = 100) -> str:
        run = subprocess.run(
            self.argv(command), cwd=self.folder, env=self.environ(), capture_output=True, text=True, timeout=timeout, check=False
        )
        output = run.stdout + run.stderr
        assert run.returncode == 0, f"{command.text} failed:\n{output[-4000:]}"
        return output

    def deploy_guided(self, command: DeployCommand, *, timeout: float = 100) -> tuple[str, list[str]]:
        """Run it in a terminal and press Enter at every prompt: the transcript and the prompts."""
        import pty

        primary, secondary = pty.openpty()
        process = subprocess.Popen(
            self.argv(command), cwd=self.folder, env=self.environ(), stdin=secondary, stdout=secondary, stderr=secondary
        )
        os.close(secondary)
        transcript, prompts = _answer_every_prompt_with_enter(primary, process, deadline=time.monotonic() + timeout)
        os.close(primary)
        assert process.wait(timeout=10) == 0, f"{command.text} failed:\n{transcript[-4000:]}"
        return transcript, prompts


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _answer_every_prompt_with_enter(fd: int, process: subprocess.Popen[bytes], *, deadline: float) -> tuple[str, list[str]]:
    """A prompt is output that stops at ``: `` without a newline and then waits; it gets an Enter."""
    transcript = ""
    prompts: list[str] = []
    answered = 0  # how much of the transcript the last Enter answered
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the terminal closed: the process is gone
                break
            if not chunk:
                break
            transcript += _ANSI.sub("", chunk.decode("utf-8", "replace")).replace("\r\n", "\n")
            continue
        if process.poll() is not None:
            break
        last_line = transcript.rsplit("\n", 1)[-1]
        if len(transcript) > answered and last_line.endswith(": "):
            prompts.append(last_line.strip())
            os.write(fd, b"\r")  # the terminal echoes it as the line's end
            answered = len(transcript)
    else:
        process.kill()
        raise AssertionError(f"no end after {len(prompts)} prompts:\n{transcript[-4000:]}")
    return transcript, prompts


# --- what CloudFormation makes of it ------------------------------------------------------------


class NoManagedPolicies:
    def load(self) -> dict[str, str]:
        return {}


def transformed(template: dict[str, Any], parameters: dict[str, str]) -> dict[str, Any]:
    """The SAM transform CloudFormation runs (moto does not): aws-sam-translator, with the
    parameter values the change set carries."""
    from samtranslator.translator.transform import transform

    result: dict[str, Any] = transform(json.loads(json.dumps(template)), dict(parameters), NoManagedPolicies())  # type: ignore[arg-type]
    return result


@dataclass(frozen=True)
class Values:
    """Parameter values as CloudFormation resolves them: given, else the template's default."""

    document: dict[str, Any]
    given: dict[str, str]
    stack_name: str

    def parameter(self, name: str) -> str:
        if name in self.given:
            return self.given[name]
        return str(self.document["Parameters"][name].get("Default", ""))

    def resolve(self, value: Any) -> Any:
        """Ref and Fn::Sub of parameters and pseudo parameters (enough for names); the rest as is."""
        pseudo = {"AWS::Region": REGION, "AWS::AccountId": "1" * 12, "AWS::Partition": "aws", "AWS::StackName": self.stack_name}
        if isinstance(value, dict) and len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref" and (arg in pseudo or arg in self.document.get("Parameters", {})):
                return pseudo.get(arg) or self.parameter(arg)
            if key == "Fn::If":
                condition, then, otherwise = arg
                return self.resolve(then if self.holds(condition) else otherwise)
            if key == "Fn::Sub":
                text, names = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])

                def name(match: re.Match[str]) -> str:
                    key = match[1]
                    if key in names:
                        return str(self.resolve(names[key]))
                    if key in pseudo or key in self.document.get("Parameters", {}):
                        return str(pseudo.get(key) or self.parameter(key))
                    return match[0]

                return re.sub(r"\$\{([\w:.]+)\}", name, text)
        return value

    def holds(self, condition: str) -> bool:
        return bool(self._evaluate(self.document.get("Conditions", {})[condition]))

    def _evaluate(self, expression: Any) -> Any:
        if isinstance(expression, dict) and len(expression) == 1:
            ((key, arg),) = expression.items()
            if key == "Fn::Equals":
                return self._evaluate(arg[0]) == self._evaluate(arg[1])
            if key == "Fn::Not":
                return not self._evaluate(arg[0])
            if key == "Fn::And":
                return all(self._evaluate(a) for a in arg)
            if key == "Fn::Or":
                return any(self._evaluate(a) for a in arg)
            if key == "Condition":
                return self.holds(arg)
        return self.resolve(expression)

    def deployed(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """The resources whose condition holds."""
        for name, resource in self.document["Resources"].items():
            if "Condition" not in resource or self.holds(resource["Condition"]):
                yield name, resource
