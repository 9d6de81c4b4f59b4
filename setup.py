"""jetzip's compiled parts: the quantisation grid's kernels (jetzip.codec._gridkernels) and the
rANS coder of quantised codes (jetzip.codec._rans, integer arithmetic only).

Everything else is in pyproject.toml. The flags keep the C arithmetic exactly IEEE double, so the
kernel gives exactmath's bits on every CPU and compiler (docs/codec.md, "The compiled grid
kernels"): no contraction of a * b + c into a fused multiply-add (GCC's default for GNU C is to
contract across statements, clang's within an expression) and no value-changing optimisation
(-ffast-math and what it implies: reassociation, flushing subnormals, ignoring NaN and signed
zeros). -fno-trapping-math (clang's default) changes no value, only whether floating-point
exception flags could be observed (nothing reads them); it lets GCC vectorise the branch-free
loops, and -O3 asks for that even where the interpreter was built with less (or CFLAGS replace
its flags).
"""

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

#: Per compiler family (distutils' compiler_type): MSVC's /fp:strict neither contracts nor
#: reassociates; GCC and clang (and compilers that accept their flags) need contraction
#: switched off explicitly.
EXACT_FLAGS = {
    "msvc": ["/fp:strict"],
    "unix": ["-O3", "-ffp-contract=off", "-fno-fast-math", "-fno-trapping-math"],
}


class ExactBuild(build_ext):
    """build_ext with EXACT_FLAGS after the interpreter's own (the last flag wins)."""

    def build_extensions(self) -> None:
        flags = EXACT_FLAGS.get(self.compiler.compiler_type, EXACT_FLAGS["unix"])
        for extension in self.extensions:
            extension.extra_compile_args = [*extension.extra_compile_args, *flags]
        super().build_extensions()


#: The buffer-protocol helpers the three extensions share (each includes it by a relative path):
#: a change to it rebuilds them all.
SHARED_HEADERS = ["src/jetzip/_buffers.h"]

setup(
    ext_modules=[
        Extension(
            "jetzip.codec._gridkernels",
            ["src/jetzip/codec/_gridkernels.c"],
            depends=SHARED_HEADERS,
        ),
        Extension("jetzip.codec._rans", ["src/jetzip/codec/_rans.c"], depends=SHARED_HEADERS),
        Extension(
            "jetzip.entropy._condkernel",
            ["src/jetzip/entropy/_condkernel.c"],
            depends=SHARED_HEADERS,
        ),
    ],
    cmdclass={"build_ext": ExactBuild},
)
