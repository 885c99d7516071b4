"""`prox synth doc` and `prox synth chunk --method rewrite` against the bare OpenAI backend, on a local teacher.

A scripted OpenAI-compatible teacher runs on 127.0.0.1 in its own process (the tests' `CompletionServer`), each
answer after `--latency` seconds: for a scoring prompt a short critique and the score line (a score from a hash
of the prompt), for a rewrite prompt the chunk minus its first line inside [doc]...[/doc]. In one run, on the
same documents and at the same concurrency, it times:

- the bare backend: `OpenAIBackend.chat` on exactly the requests synth sends (built here with
  `prox.synth.teacher`), in one call, for the doc requests and for the rewrite requests;
- `prox synth doc` and `prox synth chunk --method rewrite` end to end, each a fresh process (start-up included)
  writing a fresh OUT;
- `prox synth doc` again into the first OUT after deleting its stats.json and its tasks' completion markers (as
  if the run had been killed just before its tasks finished: the resume of docs/synth.md), every answer from
  OUT's request cache.

Besides wall-clock seconds, each row gives the client's CPU seconds (the synth process and its workers, or this
process for the bare backend; never the teacher's), which other work on the machine does not inflate. It checks
that each synth run's request cache holds exactly the bare requests, with the same answers (exit status 1
otherwise).

    python benchmarks/synth_speed.py [--docs 500] [--concurrency 16] [--latency 0.05]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import multiprocessing
import random
import resource
import shutil
import string
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from prox.chunking import DEFAULT_TOKEN_BUDGET, chunk_document, token_counter
from prox.generators.lm.cache import RequestCache, request_key
from prox.generators.lm.chat import ChatAnswer, ChatRequest
from prox.generators.lm.openai_backend import OpenAIBackend
from prox.synth.doc_teacher import DEFAULT_MAX_NEW_TOKENS
from prox.synth.profile import load_profile
from prox.synth.records import UnrenderablePrompt, doc_user_message
from prox.synth.scoring import SCORE_LINES
from prox.synth.teacher import doc_score_messages, rewrite_messages
from prox.synth.teacher_run import REQUEST_CACHE
from prox.tokenizer import load_tokenizer

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "generators" / "lm_servers"))
from completion_servers import CompletionServer, Reply, chat_answer

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared"

MODEL = "scripted-teacher"
# The server's listen backlog: ThreadingHTTPServer's 5 would drop the SYNs of a batch's first connections beyond
# it (each then waits a 1 s SYN retry), which a real server's backlog does not.
BACKLOG = 1024


# The teacher, in its own process so that its threads do not compete with the timed client for the GIL.


def teacher_reply(payload: dict, latency: float) -> Reply:
    """A critique and the score line for a scoring prompt, the chunk minus its first line for a rewrite prompt."""
    user = payload["messages"][-1]["content"]
    for label in SCORE_LINES.values():
        if f"{label}: <points>" in user:
            score = hashlib.sha256(user.encode()).digest()[0] % 6
            reply = chat_answer(f"The text is on topic but thin in places.\n{label}: {score}", len(user) // 4, 20)
            break
    else:
        lines = user.rsplit("[doc]\n", 1)[1].split("\n[/doc]", 1)[0].split("\n")
        kept = "\n".join(lines[1:])
        reply = chat_answer(f"[doc]\n{kept}\n[/doc]", len(user) // 4, len(kept) // 4)
    reply.delay = latency
    return reply


def serve(latency: float, served, address, stop) -> None:
    """Run the teacher until `stop` is set; `served` counts the requests it answered."""

    def answer(payload: dict, hit: int) -> Reply:
        with served.get_lock():
            served.value += 1
        return teacher_reply(payload, latency)

    with CompletionServer(answer) as server:
        server.httpd.socket.listen(BACKLOG)
        address.send(server.base_url)
        stop.wait()


# The corpus and the requests synth sends for it.

FILLER = ("the", "a", "of", "and", "to", "in", "is", "for", "on", "with", "as", "by", "at", "from")


def synthetic_page(rng: random.Random, number: int) -> str:
    words = [*FILLER, *(f"term{index}" for index in range(400))]
    menu = [" | ".join(rng.choice(["Home", "News", "About", "Contact", "Shop", "Blog"]) for _ in range(5))]
    prose = [
        " ".join(rng.choice(words) for _ in range(rng.randint(8, 60))).capitalize() + "."
        for _ in range(rng.randint(3, 40))
    ]
    return "\n".join([*menu, f"Page {number}", *prose, f"Copyright {2000 + number % 25} Example Ltd"])


def documents(data: Path, count: int) -> tuple[list[str], int]:
    """`count` document texts: the DCLM documents of `data` when it exists, topped up with synthetic pages; and
    how many are DCLM's."""
    texts: list[str] = []
    if data.exists():
        with gzip.open(data, "rt", encoding="utf-8") as lines:
            texts = [json.loads(line)["text"] for line in lines][:count]
    real = len(texts)
    rng = random.Random(0)
    texts += [synthetic_page(rng, number) for number in range(count - real)]
    return texts, real


def char_tokenizer(folder: Path) -> Path:
    """A tokenizer.json with one token per printable ASCII character and `<s>` (as tests/synth use)."""
    from tokenizers import Tokenizer, models

    characters = sorted(set(string.printable) - set("\x0b\x0c\r"))
    vocab = {"[UNK]": 0, **{character: index + 1 for index, character in enumerate(characters)}}
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="[UNK]"))
    tokenizer.add_special_tokens(["<s>"])
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(folder / "tokenizer.json"))
    return folder


def doc_requests(texts: list[str], tokenizer) -> list[ChatRequest]:
    """Per document, its two scoring requests, as `prox synth doc` asks them (none for an empty or unrenderable
    document)."""
    profile, requests = load_profile("web"), []
    for text in texts:
        if not text.strip():
            continue
        try:
            shown = doc_user_message(text, tokenizer).content
        except UnrenderablePrompt:
            continue
        for messages in doc_score_messages(profile, shown).values():
            requests.append(ChatRequest(MODEL, messages, DEFAULT_MAX_NEW_TOKENS))
    return requests


def rewrite_requests(texts: list[str], tokenizer) -> list[ChatRequest]:
    """Per chunk, its rewrite request, as `prox synth chunk --method rewrite` asks it."""
    profile, sizer = load_profile("web"), token_counter(tokenizer)
    return [
        ChatRequest(MODEL, rewrite_messages(profile, chunk), 2 * DEFAULT_TOKEN_BUDGET)
        for text in texts
        if text.strip()
        for chunk in chunk_document(text, sizer, DEFAULT_TOKEN_BUDGET)
    ]


# The runs.


def bare(url: str, requests: list[ChatRequest], concurrency: int) -> tuple[float, list]:
    backend = OpenAIBackend(url, concurrency=concurrency, timeout=300.0, max_retries=4)
    start = time.perf_counter()
    results = backend.chat(requests)
    return time.perf_counter() - start, results


def client_cpu() -> float:
    """CPU seconds of this process and of its child processes that have ended (each synth run; the teacher's
    process runs on): what the client spent, which a busy machine does not inflate as it does wall-clock time."""
    own, ended = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + ended.ru_utime + ended.ru_stime


def synth(command: list[str]) -> tuple[float, dict]:
    """Run a synth command in a fresh process; its seconds and its OUT's stats.json."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "prox", *command], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(command[:2])} exited with status {done.returncode}:\n{done.stderr[-4000:]}")
    out = Path(command[command.index("-o") + 1])
    return seconds, json.loads((out / "stats.json").read_text())


def same_requests(out: Path, requests: list[ChatRequest], results: list) -> bool:
    """OUT's request cache holds exactly these requests, with the answers the bare backend got."""
    cache = RequestCache(out.joinpath(*REQUEST_CACHE))
    try:
        distinct = {request_key(request) for request in requests}
        answers = [cache.get(request) for request in requests]
        texts = [result.text if isinstance(result, ChatAnswer) else None for result in results]
        return len(cache) == len(distinct) and answers == texts
    finally:
        cache.close()


def written(out: Path) -> str:
    """A digest of OUT's records, rejections and errors (its shards), for comparing two runs."""
    digest = hashlib.sha256()
    for path in sorted(out.rglob("*.jsonl.gz")):
        digest.update(str(path.relative_to(out)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=500, help="documents (default: 500)")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight (default: 16, synth's)")
    parser.add_argument("--latency", type=float, default=0.05, help="teacher seconds per request (default: 0.05)")
    parser.add_argument("--tokenizer", default=str(SHARED / "tokenizers" / "llama2"))
    parser.add_argument("--data", default=str(SHARED / "data" / "dclm_quality" / "dev.jsonl.gz"))
    args = parser.parse_args()

    context = multiprocessing.get_context("spawn")
    served, stop = context.Value("i", 0), context.Event()
    receive, send = context.Pipe(duplex=False)
    server = context.Process(target=serve, args=(args.latency, served, send, stop), daemon=True)
    server.start()
    try:
        if not receive.poll(60):
            print("the scripted teacher did not start", file=sys.stderr)
            return 1
        with tempfile.TemporaryDirectory() as scratch:
            return run(args, receive.recv(), served, Path(scratch))
    finally:
        stop.set()
        server.join(timeout=10)


def run(args: argparse.Namespace, url: str, served, root: Path) -> int:
    texts, real = documents(Path(args.data), args.docs)
    corpus = root / "docs.jsonl"
    corpus.write_text("".join(json.dumps({"id": f"doc{n}", "text": text}) + "\n" for n, text in enumerate(texts)))
    tokenizer_dir = Path(args.tokenizer)
    if not (tokenizer_dir / "tokenizer.json").exists():
        tokenizer_dir = char_tokenizer(root / "char-tokenizer")
    tokenizer = load_tokenizer(str(tokenizer_dir))
    docs, rewrites = doc_requests(texts, tokenizer), rewrite_requests(texts, tokenizer)
    teacher = ["--tokenizer", str(tokenizer_dir), "--teacher-url", url, "--teacher-model", MODEL]
    teacher += ["--concurrency", str(args.concurrency)]
    doc_command = ["synth", "doc", str(corpus), "-o", str(root / "doc"), *teacher]
    chunk_command = ["synth", "chunk", str(corpus), "-o", str(root / "chunk"), "--method", "rewrite", *teacher]

    # run, requests, to server, cached, seconds, the client's CPU seconds, the bare backend's seconds
    rows: list[tuple[str, int, int, int, float, float, float]] = []
    cpu: list[float] = []  # the client's CPU seconds of each step, in order

    def counted(step):
        before, cpu_before = served.value, client_cpu()
        result = step()
        cpu.append(client_cpu() - cpu_before)
        return result, served.value - before

    (bare_doc, doc_results), sent = counted(lambda: bare(url, docs, args.concurrency))
    rows.append(("bare backend, doc requests", len(docs), sent, 0, bare_doc, cpu[-1], bare_doc))
    (seconds, doc_stats), sent = counted(lambda: synth(doc_command))
    teacher_counts = doc_stats["teacher"]
    rows.append(
        ("prox synth doc", teacher_counts["requests"], sent, teacher_counts["cache_hits"], seconds, cpu[-1], bare_doc)
    )
    identical = same_requests(root / "doc", docs, doc_results)

    (bare_rewrite, rewrite_results), sent = counted(lambda: bare(url, rewrites, args.concurrency))
    rows.append(("bare backend, rewrite requests", len(rewrites), sent, 0, bare_rewrite, cpu[-1], bare_rewrite))
    (seconds, chunk_stats), sent = counted(lambda: synth(chunk_command))
    teacher_counts = chunk_stats["teacher"]
    name = "prox synth chunk --method rewrite"
    rows.append((name, teacher_counts["requests"], sent, teacher_counts["cache_hits"], seconds, cpu[-1], bare_rewrite))
    identical &= same_requests(root / "chunk", rewrites, rewrite_results)

    first_run = written(root / "doc")
    # An unfinished OUT, its tasks all to do again: the same command resumes it from its cache.
    (root / "doc" / "stats.json").unlink()
    shutil.rmtree(root / "doc" / "logs" / "completions")
    (seconds, rerun_stats), sent = counted(lambda: synth(doc_command))
    teacher_counts = rerun_stats["teacher"]
    name = "prox synth doc, resumed"
    rows.append((name, teacher_counts["requests"], sent, teacher_counts["cache_hits"], seconds, cpu[-1], bare_doc))
    same_output = written(root / "doc") == first_run and {
        key: value for key, value in rerun_stats.items() if key != "teacher"
    } == {key: value for key, value in doc_stats.items() if key != "teacher"}

    print(
        f"{len(texts)} documents ({real} DCLM dev, {len(texts) - real} synthetic), {len(rewrites)} chunks; "
        f"tokenizer {tokenizer_dir.name}; concurrency {args.concurrency}; teacher latency {args.latency:g} s; "
        f"synth runs are processes, start-up included"
    )
    header = f"{'run':<36}{'requests':>9}{'to server':>10}{'cached':>8}{'seconds':>9}{'requests/s':>11}{'× bare':>8}"
    print(header + f"{'CPU s':>8}")
    for name, requests, sent, cached, seconds, cpu_seconds, baseline in rows:
        ratio = seconds / baseline
        print(
            f"{name:<36}{requests:>9}{sent:>10}{cached:>8}{seconds:>9.2f}{requests / seconds:>11.1f}{ratio:>8.2f}"
            f"{cpu_seconds:>8.2f}"
        )
    print(
        f"records: doc {doc_stats['examples']['written']} written, {doc_stats['examples']['rejected']} rejected; "
        f"chunk {chunk_stats['examples']['written']} written, {chunk_stats['examples']['rejected']} rejected"
    )
    print(f"synth sent exactly the bare requests: {'yes' if identical else 'NO'}")
    print(f"resumed run wrote the same shards and stats (but the teacher's): {'yes' if same_output else 'NO'}")
    return 0 if identical and same_output else 1


if __name__ == "__main__":
    sys.exit(main())
