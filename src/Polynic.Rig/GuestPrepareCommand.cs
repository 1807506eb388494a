namespace Polynic.Rig;

/// <summary>
/// The entry behind <c>polynic guest prepare</c>: prepares the guest cache, printing progress,
/// and turns failures into one message and an exit status. Needs no shell, so CI can call it
/// directly through the CLI.
/// </summary>
public static class GuestPrepareCommand
{
    /// <summary>Prepares the cache; returns 0 on success, 2 for an unmet prerequisite, 1 for any other failure.</summary>
    public static async Task<int> RunAsync(TextWriter output, TextWriter error, GuestRigOptions? options = null, CancellationToken cancellationToken = default)
    {
        var rig = new GuestRig(options);
        var started = System.Diagnostics.Stopwatch.StartNew();
        try
        {
            output.WriteLine($"Preparing the Polynic guest image in {rig.CacheDirectory} ...");
            var image = await rig.PrepareAsync(new SynchronousProgress(output), cancellationToken).ConfigureAwait(false);
            output.WriteLine($"Guest image ready after {started.Elapsed.TotalSeconds:0} s: kernel {image.KernelPath}, initramfs {image.InitramfsPath}, QEMU {image.QemuVersion}.");
            return 0;
        }
        catch (RigPrerequisiteException e)
        {
            error.WriteLine(e.Message);
            return 2;
        }
        catch (RigException e)
        {
            error.WriteLine($"Guest preparation failed: {e.Message}");
            return 1;
        }
    }

    // Progress<T> posts to the thread pool, which would print lines out of order.
    private sealed class SynchronousProgress(TextWriter output) : IProgress<string>
    {
        public void Report(string value)
        {
            lock (output) output.WriteLine(value);
        }
    }
}
