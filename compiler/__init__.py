"""The compiler: graph API, scheduler, lowering to programs, runtime."""
