namespace Polynic.Modules.Tests;

internal static class Collection
{
    /// <summary>Runs the collector until <paramref name="weak"/> dies, at most <paramref name="attempts"/> times; whether it died.</summary>
    public static bool WaitUntilCollected(WeakReference weak, int attempts = 20)
    {
        for (int i = 0; i < attempts && weak.IsAlive; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }
        return !weak.IsAlive;
    }
}
