"""Runs a student's exercise file where it cannot reach the checker: a child process.

The checker (the parent) never runs the student's code. It starts a child process
(`python -m cs20.exercises.sandbox`) that loads the student's file and answers requests
over a pair of pipes: call the student's function `name` on these arguments, read the
module's value `NAME`, run one of the checker's helpers (a function of an exercise's
checks, `exercises.<name>.checks`, or of `cs20.exercises`: training, a graph trace) on
the student's functions. Tensors cross as bytes with their dtype and shape, so the
parent gets the student's outputs for the inputs it chose and compares them with the
reference solution itself; any other object the student returns stays in the child and
crosses as a handle (`Remote`) the parent can call or pass back.

The child is the student's: whatever it prints is discarded, and whatever it sends is
read as JSON (never unpickled), so it can send wrong answers, never code. The parent
reads each answer against a deadline: a child that hangs is killed, one that exits
(`os._exit`, a crash) is noticed, and either way the next problem gets a fresh child.

`InProcess` answers the same requests in this process with the same conversions, no
child and no time limit: the test suite checks many small wrong answers with it.
"""

from __future__ import annotations

import base64
import contextlib
import importlib
import importlib.util
import itertools
import json
import os
import pathlib
import re
import select
import signal
import subprocess
import sys
import time
import traceback
import types

import numpy as np

# A dataset answer holds at most this many elements: an endless one (`.repeat()`)
# comes back cut, not as a hang.
MAX_DATASET_ELEMENTS = 1000
MAX_MESSAGE_BYTES = 256 * 2 ** 20
LENGTH_BYTES = 8


class StudentError(Exception):
    """The student's code raised: `type_name` is the exception's class, the message is
    the one-line reason (`raised ValueError: ... (line 12 of e01_ops.py)`)."""

    def __init__(self, line: str, type_name: str):
        super().__init__(line)
        self.type_name = type_name


class MissingFunction(Exception):
    """The student's file defines no function of that name."""


class ChildEnded(Exception):
    """The child process ended (or broke the protocol) before answering."""


class TimedOut(Exception):
    """The child did not answer before the deadline."""


# ----------------------------------------------------------------------------- messages

def exception_line(error: BaseException, path: pathlib.Path) -> str:
    """`raised ValueError: message (line 12 of e01_ops.py)`; the line is the last one of
    the student's file on the traceback (or, for an error inside a traced function, in
    TensorFlow's "in user code:" report)."""
    frames = traceback.extract_tb(error.__traceback__)
    own = [frame.lineno for frame in frames
           if pathlib.Path(frame.filename).resolve() == path.resolve()]
    if isinstance(error, NotImplementedError) and not str(error) and own:
        return "not done yet (raises NotImplementedError)"
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(error))  # Keras' bold
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if lines and lines[0] == "in user code:":
        own += [int(number) for number in
                re.findall(rf'File "{re.escape(str(path))}", line (\d+)', text)]
        message = traced_message(lines, type(error).__name__)
    else:
        message = lines[0] if lines else ""
    message = message if len(message) <= 200 else message[:197] + "..."
    where = f" (line {own[-1]} of {path.name})" if own else ""
    return f"raised {type(error).__name__}{': ' + message if message else ''}{where}"


def traced_message(lines: list[str], type_name: str) -> str:
    """The error's own message in TensorFlow's report of an error inside a traced
    function: after the last "TypeName: " line (Keras puts it on the line after its
    "Exception encountered when calling ...")."""
    starts = [index for index, line in enumerate(lines) if line.startswith(f"{type_name}: ")]
    if not starts:
        return lines[-1]
    message = lines[starts[-1]][len(type_name) + 2:]
    if message.startswith("Exception encountered when calling") and starts[-1] + 1 < len(lines):
        return lines[starts[-1] + 1]
    return message


def load_error(error: BaseException, path: pathlib.Path) -> str:
    """Why a file does not load, in one line."""
    if isinstance(error, SyntaxError):
        return f"{path.name} does not load: SyntaxError at line {error.lineno}: {error.msg}"
    return f"{path.name} does not load: {exception_line(error, path)}"


def is_helper_module(name: str) -> bool:
    """Whether the child may run functions of module `name` for the checker: an
    exercise's checks (exercises.eNN_topic.checks) or the checker's own modules."""
    return name.startswith("cs20.exercises.") or bool(
        re.fullmatch(r"exercises\.e[0-9][0-9]_\w+\.checks", name))


def load_file(path: pathlib.Path, module_name: str) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    # AutoGraph and dataclasses look a function's module up in sys.modules.
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


# ----------------------------------------------------------------------------- encoding

class Remote:
    """An object that stayed with the student's code (a model, a tf.function): callable
    when it was, and passed back as itself when given as an argument."""

    def __init__(self, sandbox, handle: int, type_name: str, is_callable: bool):
        self.sandbox, self.handle = sandbox, handle
        self.type_name, self.is_callable = type_name, is_callable

    def __call__(self, *arguments, **keywords):
        if not self.is_callable:
            raise TypeError(f"a {self.type_name} is not callable")
        return self.sandbox.request({"op": "call", "handle": self.handle,
                                     "arguments": encode(list(arguments)),
                                     "keywords": encode(keywords)})

    def __repr__(self) -> str:
        return f"<{self.type_name} of the student's>"


class StudentDataset:
    """A tf.data.Dataset the student returned: its elements (`cut`: it had more than
    MAX_DATASET_ELEMENTS)."""

    def __init__(self, elements: list, cut: bool):
        self.elements, self.cut = elements, cut


def is_tensor_like(value) -> bool:
    return hasattr(value, "numpy") or isinstance(value, (np.ndarray, np.generic))


def encode(value, keep=None):
    """A JSON-able form of `value`. Tensors, variables and arrays cross as bytes (string
    tensors as lists); tuples, lists and dicts of str keys element by element; a
    dataset as its elements. Anything else becomes a handle from `keep(value)` (the
    child's side) or, a `Remote` being sent back, its handle."""
    import tensorflow as tf

    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Remote):
        return {"handle": value.handle}
    if isinstance(value, tuple):
        return {"tuple": [encode(item, keep) for item in value]}
    if isinstance(value, list):
        return [encode(item, keep) for item in value]
    if isinstance(value, dict) and all(isinstance(key, str) for key in value):
        return {"dict": {key: encode(item, keep) for key, item in value.items()}}
    if isinstance(value, tf.data.Dataset) and keep is not None:
        elements = list(itertools.islice(iter(value), MAX_DATASET_ELEMENTS + 1))
        return {"dataset": [encode(element, keep) for element in
                            elements[:MAX_DATASET_ELEMENTS]],
                "cut": len(elements) > MAX_DATASET_ELEMENTS}
    if is_tensor_like(value):
        array = value.numpy() if hasattr(value, "numpy") else np.asarray(value)
        if array.dtype.kind not in "OSU":
            kind = "variable" if isinstance(value, tf.Variable) else "tensor"
            return {kind: [tf.as_dtype(array.dtype).name, list(array.shape),
                           base64.b64encode(np.ascontiguousarray(array).tobytes()).decode()]}
    if keep is None:
        raise TypeError(f"cannot send a {type(value).__name__} to the student's code")
    return {"handle": keep(value), "type": type(value).__name__, "callable": callable(value)}


def decode_array(fields) -> np.ndarray:
    import tensorflow as tf

    dtype_name, shape, data = fields
    dtype = tf.as_dtype(dtype_name).as_numpy_dtype
    return np.frombuffer(base64.b64decode(data), dtype=dtype).reshape(shape).copy()


def decode(data, *, handle, tensor, variable):
    """The inverse of `encode`, each side choosing what a handle, a tensor and a
    variable become (the child: its objects, tf tensors, tf.Variables; the parent:
    `Remote`s and numpy arrays)."""
    def inner(item):
        return decode(item, handle=handle, tensor=tensor, variable=variable)

    if isinstance(data, list):
        return [inner(item) for item in data]
    if not isinstance(data, dict):
        return data
    if "tuple" in data:
        return tuple(inner(item) for item in data["tuple"])
    if "dict" in data:
        return {key: inner(item) for key, item in data["dict"].items()}
    if "dataset" in data:
        return StudentDataset([inner(item) for item in data["dataset"]], bool(data["cut"]))
    if "tensor" in data:
        return tensor(decode_array(data["tensor"]))
    if "variable" in data:
        return variable(decode_array(data["variable"]))
    return handle(data)


# ----------------------------------------------------------------------------- the child's side

class Server:
    """Holds the student's module and the objects its functions returned; answers one
    request at a time (a dict in, a dict out, never an exception)."""

    def __init__(self):
        self.module: types.ModuleType | None = None
        self.path: pathlib.Path | None = None
        self.objects: dict[int, object] = {}

    def keep(self, value) -> int:
        handle = len(self.objects)
        self.objects[handle] = value
        return handle

    def arguments(self, data):
        import tensorflow as tf

        return decode(data, handle=lambda fields: self.objects[fields["handle"]],
                      tensor=tf.constant, variable=tf.Variable)

    def answer(self, request: dict) -> dict:
        try:
            return {"value": encode(self.perform(request), self.keep)}
        except MissingFunction as missing:
            return {"missing": str(missing)}
        except BaseException as error:  # the student's code may raise anything
            line = (load_error(error, self.path) if request["op"] == "load"
                    else exception_line(error, self.path or pathlib.Path("?")))
            return {"error": line, "type": type(error).__name__}

    def perform(self, request: dict):
        import tensorflow as tf

        op = request["op"]
        if op == "load":
            self.path = pathlib.Path(request["path"])
            self.module = load_file(self.path, request["module_name"])
            return None
        if op == "begin":  # a problem starts: the same random seeds on every run
            tf.random.set_seed(request["seed"])
            return None
        if op == "function":
            function = getattr(self.module, request["name"], None)
            if not callable(function):
                raise MissingFunction(request["name"])
            return function
        if op == "value":
            return getattr(self.module, request["name"], None)
        if op == "helper":
            if not is_helper_module(request["module"]):
                raise ValueError(f"not a checker's helper: {request['module']}")
            target = getattr(importlib.import_module(request["module"]), request["name"])
        else:  # "call"
            target = self.objects[request["handle"]]
        return target(*self.arguments(request["arguments"]),
                      **self.arguments(request["keywords"]))


def write_message(fd: int, message: dict, deadline: float = float("inf")) -> None:
    data = json.dumps(message).encode()
    data = len(data).to_bytes(LENGTH_BYTES, "big") + data
    while data:
        wait_for(fd, deadline, writing=True)
        data = data[os.write(fd, data):]


def read_message(fd: int, deadline: float = float("inf")) -> dict:
    size = int.from_bytes(read_exactly(fd, LENGTH_BYTES, deadline), "big")
    if size > MAX_MESSAGE_BYTES:
        raise ChildEnded(f"sent a message of {size:,} bytes")
    try:
        message = json.loads(read_exactly(fd, size, deadline))
    except ValueError:
        raise ChildEnded("sent something that is not an answer") from None
    if not isinstance(message, dict):
        raise ChildEnded("sent something that is not an answer")
    return message


def read_exactly(fd: int, count: int, deadline: float) -> bytes:
    data = b""
    while len(data) < count:
        wait_for(fd, deadline, writing=False)
        chunk = os.read(fd, min(count - len(data), 2 ** 20))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def wait_for(fd: int, deadline: float, *, writing: bool) -> None:
    """Until `fd` can be read (written), or TimedOut at `deadline` (inf: no limit)."""
    timeout = None if deadline == float("inf") else max(deadline - time.monotonic(), 0.0)
    ready = select.select([], [fd], [], timeout)[1] if writing else \
        select.select([fd], [], [], timeout)[0]
    if not ready:
        raise TimedOut


def serve(read_fd: int, write_fd: int) -> None:
    """The child's loop: import TensorFlow, say so, then answer until the parent goes."""
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    server = Server()
    write_message(write_fd, {"ready": True})
    while True:
        try:
            request = read_message(read_fd)
        except EOFError:
            return
        write_message(write_fd, {"id": request["id"], **server.answer(request)})


# ----------------------------------------------------------------------------- the parent's side

class Sandbox:
    """The parent's side: the student's file behind a transport, each request answered
    before `deadline` (time.monotonic()) or TimedOut."""

    def __init__(self):
        self.deadline = float("inf")
        self.count = 0

    def request(self, message: dict):
        self.count += 1
        reply = self.exchange({"id": self.count, **message})
        if reply.get("id") != self.count:
            raise ChildEnded("answered another question")
        if "missing" in reply:
            raise MissingFunction(reply["missing"])
        if "error" in reply:
            raise StudentError(str(reply["error"]), str(reply.get("type")))
        return decode(reply.get("value"), tensor=lambda array: array, variable=lambda array: array,
                      handle=self.remote)

    def remote(self, fields: dict) -> Remote:
        return Remote(self, int(fields["handle"]), str(fields.get("type")),
                      bool(fields.get("callable")))

    def load(self, path: pathlib.Path, module_name: str) -> None:
        self.request({"op": "load", "path": str(path.resolve()), "module_name": module_name})

    def begin(self, seed: int) -> None:
        self.request({"op": "begin", "seed": seed})

    def function(self, name: str) -> Remote:
        return self.request({"op": "function", "name": name})

    def value(self, name: str):
        return self.request({"op": "value", "name": name})

    def run(self, helper, *arguments, **keywords):
        """`helper(*arguments, **keywords)` next to the student's code (a function of an
        exercise's checks or of `cs20.exercises`; `Remote` arguments become the student's
        objects)."""
        return self.request({"op": "helper", "module": helper.__module__,
                             "name": helper.__name__, "arguments": encode(list(arguments)),
                             "keywords": encode(keywords)})

    def exchange(self, message: dict) -> dict:
        raise NotImplementedError

    def wait_until_started(self, seconds: float) -> None:
        """Waits at most `seconds` for the child to be ready, if there is one."""

    def stop(self) -> None:
        """Ends the child, if any."""


class InProcess(Sandbox):
    """The student's code in this process, through the same encoding: for tests."""

    def __init__(self):
        super().__init__()
        self.server = Server()

    def exchange(self, message: dict) -> dict:
        reply = self.server.answer(json.loads(json.dumps(message)))
        return json.loads(json.dumps({"id": message["id"], **reply}))


class ChildProcess(Sandbox):
    """The student's code in a child process of its own session (killing the session
    ends whatever the student's code started)."""

    def __init__(self):
        super().__init__()
        to_child, self.to_child = os.pipe()
        self.from_child, from_child = os.pipe()
        root = str(pathlib.Path(__file__).resolve().parents[2])
        environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3",
                       "PYTHONPATH": os.pathsep.join(filter(None, [
                           root, os.environ.get("PYTHONPATH", "")]))}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cs20.exercises.sandbox", str(to_child), str(from_child)],
            pass_fds=(to_child, from_child), stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
            env=environment)
        os.close(to_child)
        os.close(from_child)
        os.set_blocking(self.to_child, False)
        self.started = False

    def wait_until_started(self, seconds: float) -> None:
        if not self.started:
            self.deadline = time.monotonic() + seconds
            self.receive()  # {"ready": True}: TensorFlow is loaded
            self.started = True

    def exchange(self, message: dict) -> dict:
        try:
            write_message(self.to_child, message, self.deadline)
        except BrokenPipeError:
            raise ChildEnded(self.how_it_ended()) from None
        return self.receive()

    def receive(self) -> dict:
        try:
            return read_message(self.from_child, self.deadline)
        except EOFError:
            raise ChildEnded(self.how_it_ended()) from None

    def how_it_ended(self) -> str:
        try:
            code = self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            return "your code closed the process's connection to the checker"
        if code < 0:
            known = -code in {number.value for number in signal.Signals}
            return ("the process running your code was killed by "
                    + (signal.Signals(-code).name if known else f"signal {-code}"))
        return f"your code ended the process it ran in (exit code {code})"

    def stop(self) -> None:
        if self.process.returncode is None:  # not reaped: its group id is still its own
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        for fd in (self.to_child, self.from_child):
            os.close(fd)


if __name__ == "__main__":
    serve(int(sys.argv[1]), int(sys.argv[2]))
