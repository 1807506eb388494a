namespace Polynic.Rig.Cache;

/// <summary>
/// Serialises cache builds across processes: an exclusive open of a lock file, which .NET
/// backs with flock(2) on Linux, so a crashed holder releases it automatically.
/// </summary>
internal sealed class CacheLock : IDisposable
{
    private readonly FileStream stream;

    private CacheLock(FileStream stream) => this.stream = stream;

    public static async Task<CacheLock> AcquireAsync(string cacheDirectory, IProgress<string>? progress, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(cacheDirectory);
        var path = Path.Combine(cacheDirectory, ".lock");
        var announced = false;
        while (true)
        {
            try
            {
                return new CacheLock(new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None));
            }
            catch (IOException)
            {
                if (!announced)
                {
                    progress?.Report($"Waiting for another process that is preparing {cacheDirectory} ...");
                    announced = true;
                }
                await Task.Delay(500, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    public void Dispose() => stream.Dispose();
}
