using System.Runtime.InteropServices;

namespace Polynic.Native;

/// <summary>
/// CPU time the calling thread has used (clock_gettime CLOCK_THREAD_CPUTIME_ID): what a watchdog
/// compares against a limit when wall-clock time would also count the time the thread waited for a
/// core on a busy host. A system call (microseconds under nested virtualization), so sample it, do not
/// read it per operation.
/// </summary>
public static class ThreadCpuClock
{
    /// <summary>The calling thread's CPU time so far; <see cref="TimeSpan.Zero"/> if the clock cannot be read.</summary>
    public static TimeSpan Now => LibC.clock_gettime(LibC.CLOCK_THREAD_CPUTIME_ID, out var t) == 0
        ? TimeSpan.FromTicks(t.Seconds * TimeSpan.TicksPerSecond + t.Nanoseconds / 100)
        : TimeSpan.Zero;
}

public static unsafe partial class LibC
{
    public const int CLOCK_THREAD_CPUTIME_ID = 3;

    /// <summary>struct timespec.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport(Lib, EntryPoint = "clock_gettime", SetLastError = true)]
    public static partial int clock_gettime(int clock, out Timespec time);
}
