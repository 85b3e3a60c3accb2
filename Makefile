# Thin wrappers over the real commands; CI and the README use the same ones.
PYTHON ?= python3
CC ?= cc
CFLAGS ?= -O3
SC_CFLAGS = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wconversion -Wno-sign-conversion -fPIC -Icsrc $(CFLAGS)
LIB_SRCS = $(wildcard csrc/*.c)
LIB_OBJS = $(patsubst csrc/%.c,build/c/%.o,$(LIB_SRCS))

.PHONY: build lib embed-demo test bench clean

build:            ## compile the extension in place (development)
	$(PYTHON) setup.py build_ext --inplace

lib: build/libstreamcore.a   ## the C core alone, no Python: build/libstreamcore.a

build/c/%.o: csrc/%.c csrc/*.h
	@mkdir -p build/c
	$(CC) $(SC_CFLAGS) -c $< -o $@

build/libstreamcore.a: $(LIB_OBJS)
	ar rcs $@ $^

embed-demo: build/libstreamcore.a   ## a C program appending to and reading a log
	$(CC) $(SC_CFLAGS) examples/embed.c build/libstreamcore.a -lpthread -o build/embed-demo

test:             ## the whole test suite (C programs included)
	pytest

bench:            ## micro-benchmarks, then the ratio table
	pytest bench/micro --benchmark-only
	$(PYTHON) -m streamcore bench

clean:
	rm -rf build dist wheelhouse *.egg-info streamcore/_core.c streamcore/*.so
