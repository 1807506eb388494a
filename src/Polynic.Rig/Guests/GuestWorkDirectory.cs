namespace Polynic.Rig.Guests;

/// <summary>A guest's own directory under <see cref="GuestOptions.WorkParent"/>: its serial log and QMP socket.</summary>
internal static class GuestWorkDirectory
{
    public const string SerialLogName = "serial.log";

    /// <summary>Creates directory <paramref name="name"/> in <paramref name="parent"/> and opens its serial log for writing.</summary>
    public static (string Path, Stream SerialLog) Create(string parent, string name)
    {
        Directory.CreateDirectory(parent);
        var path = System.IO.Path.Combine(parent, name);
        Directory.CreateDirectory(path);
        return (path, new FileStream(System.IO.Path.Combine(path, SerialLogName), FileMode.Create, FileAccess.Write, FileShare.Read));
    }
}
