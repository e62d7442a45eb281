/* The smallest program the exec loop can run: a static x86-64 binary
 * without libc that exits with status 0, so that the loop times the exec
 * path (and lockc's exec hooks), not a C library's start-up. */
void _start(void) {
    __asm__ volatile("mov $60, %eax\n\t"
                     "xor %edi, %edi\n\t"
                     "syscall");
    __builtin_unreachable();
}
