namespace Polynic.Core.Tests.Nic;

/// <summary>Checks that a steady-state code path allocates nothing.</summary>
internal static class Allocations
{
    /// <summary>
    /// Runs <paramref name="body"/> once to warm up, then up to five measured times; passes when a
    /// run allocates 0 bytes. The retries absorb one-off allocations of the runtime itself (tiered
    /// JIT recompilation on the test thread), never a per-call allocation, which every run would show.
    /// </summary>
    public static void AssertNone(Action body)
    {
        body();
        long best = long.MaxValue;
        for (int attempt = 0; attempt < 5 && best != 0; attempt++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            body();
            best = Math.Min(best, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        Assert.Equal(0, best);
    }
}
