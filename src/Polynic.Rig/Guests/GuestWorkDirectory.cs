using Polynic.Native;

namespace Polynic.Rig.Guests;

/// <summary>A guest's own directory under <see cref="GuestOptions.WorkParent"/>: its serial log and QMP socket.</summary>
/// <remarks>
/// The rig runs as root and the parent is under /tmp, where any local user may create it first
/// or plant links: the parent goes through <see cref="PrivateDirectory"/> (created 0700, refused
/// if another user could change it or it is a link), each guest's directory is created new
/// (0700; a name that exists is refused, never reused), and the serial log is created in it
/// exclusively, 0600.
/// </remarks>
internal static class GuestWorkDirectory
{
    public const string SerialLogName = "serial.log";

    /// <summary>Creates directory <paramref name="name"/> in <paramref name="parent"/> and opens its serial log for writing.</summary>
    /// <exception cref="UnsafePathException">The parent is a link or another user could change it, or <paramref name="name"/> exists.</exception>
    /// <exception cref="IOException">A directory or the log cannot be created.</exception>
    public static (string Path, Stream SerialLog) Create(string parent, string name)
    {
        using var work = PrivateDirectory.Open(parent);
        using var guest = work.CreateDirectory(name);
        return (guest.Path, new FileStream(guest.CreateFile(SerialLogName), FileAccess.Write));
    }
}
