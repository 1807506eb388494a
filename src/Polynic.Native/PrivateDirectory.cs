using Microsoft.Win32.SafeHandles;

namespace Polynic.Native;

/// <summary>
/// A directory Polynic writes into that no other local user can change. Opening it creates it
/// 0700 if it is missing; an existing one must be a real directory (not a symbolic link) owned by
/// the effective user or root, and writable by nobody else unless it is sticky (like /tmp: others
/// may add entries there but never remove or rename ours). It stays open by descriptor, and every
/// file and directory made in it is made relative to that descriptor and exclusively
/// (O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600 or 0700): a link planted or a name taken in advance is
/// refused, never followed or reused.
/// </summary>
/// <remarks>
/// The one place for this rule: capture files, the demo's capture directory, the guest rig's work
/// directories and the compiled-module cache all use it. The directory's ancestors are not
/// checked: once the descriptor is open, renaming or replacing them changes nothing it reaches.
/// </remarks>
public sealed unsafe class PrivateDirectory : IDisposable
{
    private const uint DirectoryMode = 0x1C0; // 0700
    private const uint FileMode = 0x180;      // 0600
    private const int WritableByOthers = 0x12; // S_IWGRP | S_IWOTH

    private readonly FileDescriptor _fd;

    private PrivateDirectory(string path, FileDescriptor fd, bool isShared)
    {
        Path = path;
        _fd = fd;
        IsShared = isShared;
    }

    /// <summary>The directory's full path.</summary>
    public string Path { get; }

    /// <summary>Sticky and writable by others (such as /tmp): files are still made only exclusively.</summary>
    public bool IsShared { get; }

    /// <summary>
    /// Opens <paramref name="path"/>, creating it 0700 if missing (and missing parents with the
    /// process's default mode, as mkdir -p does), and checks it.
    /// </summary>
    /// <exception cref="UnsafePathException">It is a symbolic link, not a directory, owned by another user, or writable by others without the sticky bit.</exception>
    /// <exception cref="IOException">It cannot be created or opened.</exception>
    public static PrivateDirectory Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        path = System.IO.Path.TrimEndingDirectorySeparator(System.IO.Path.GetFullPath(path));
        if (System.IO.Path.GetDirectoryName(path) is { } parent && !Directory.Exists(parent)) Directory.CreateDirectory(parent);
        bool created = LibC.mkdir(path, DirectoryMode) == 0;
        if (!created && LibC.LastErrno != Errno.EEXIST) throw Failure("cannot create directory", path);
        int fd = LibC.open(path, LibC.O_RDONLY | LibC.O_DIRECTORY | LibC.O_NOFOLLOW | LibC.O_CLOEXEC, 0);
        if (fd < 0) throw OpenFailure(path);
        return Adopt(path, new FileDescriptor(fd), created);
    }

    /// <summary>
    /// Creates file <paramref name="name"/> for writing, mode 0600. With <paramref name="replace"/>
    /// a regular file of ours by that name is removed first (a file of an earlier run).
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="name"/> is not a single path component.</exception>
    /// <exception cref="UnsafePathException">The name is taken (by anything, or with <paramref name="replace"/> by anything but a regular file of ours).</exception>
    /// <exception cref="IOException">The file cannot be created.</exception>
    public SafeFileHandle CreateFile(string name, bool replace = false)
    {
        CheckName(name);
        using var lease = Lease();
        if (replace && Entry(lease.Number, name) is { } existing)
        {
            if (!IsOwnRegularFile(existing)) throw new UnsafePathException(Combine(name), Describe(existing));
            if (LibC.unlinkat(lease.Number, name, 0) < 0 && LibC.LastErrno != Errno.ENOENT) throw Failure("cannot remove", Combine(name));
        }
        int fd = LibC.openat(lease.Number, name, LibC.O_WRONLY | LibC.O_CREAT | LibC.O_EXCL | LibC.O_NOFOLLOW | LibC.O_CLOEXEC, FileMode);
        if (fd < 0)
        {
            if (LibC.LastErrno == Errno.EEXIST) throw new UnsafePathException(Combine(name), "already exists, and Polynic only writes files it creates new");
            throw Failure("cannot create", Combine(name));
        }
        var file = new SafeFileHandle(fd, ownsHandle: true);
        // The umask may have taken bits away; the mode is exactly 0600 either way.
        if (LibC.fchmod(fd, FileMode) < 0)
        {
            file.Dispose();
            throw Failure("cannot set the mode of", Combine(name));
        }
        return file;
    }

    /// <summary>
    /// Opens file <paramref name="name"/> for reading if it is a regular file owned by this user
    /// (or root) that nobody else may write; null if there is none.
    /// </summary>
    /// <exception cref="UnsafePathException">It is a link, not a regular file, another user's, or writable by others.</exception>
    /// <exception cref="IOException">It cannot be opened.</exception>
    public SafeFileHandle? OpenFile(string name)
    {
        CheckName(name);
        using var lease = Lease();
        int fd = LibC.openat(lease.Number, name, LibC.O_RDONLY | LibC.O_NOFOLLOW | LibC.O_CLOEXEC, 0);
        if (fd < 0)
        {
            int errno = LibC.LastErrno;
            if (errno == Errno.ENOENT) return null;
            if (errno == Errno.ELOOP) throw new UnsafePathException(Combine(name), "is a symbolic link");
            throw Failure("cannot open", Combine(name));
        }
        var file = new SafeFileHandle(fd, ownsHandle: true);
        var status = Status(fd, "", LibC.AT_EMPTY_PATH, Combine(name))!.Value;
        if ((status.Mode & LibC.S_IFMT) != LibC.S_IFREG || !IsTrustedOwner(status.Owner) || (status.Mode & WritableByOthers) != 0)
        {
            file.Dispose();
            throw new UnsafePathException(Combine(name), Describe(status));
        }
        return file;
    }

    /// <summary>
    /// Creates directory <paramref name="name"/> (0700) and opens it. A name that exists is
    /// refused, never reused: whatever is there was not made by this call.
    /// </summary>
    /// <exception cref="UnsafePathException">The name exists.</exception>
    /// <exception cref="IOException">It cannot be created.</exception>
    public PrivateDirectory CreateDirectory(string name)
    {
        CheckName(name);
        using var lease = Lease();
        if (LibC.mkdirat(lease.Number, name, DirectoryMode) < 0)
        {
            if (LibC.LastErrno == Errno.EEXIST) throw new UnsafePathException(Combine(name), "already exists, and Polynic never reuses a directory it did not just create");
            throw Failure("cannot create directory", Combine(name));
        }
        int fd = LibC.openat(lease.Number, name, LibC.O_RDONLY | LibC.O_DIRECTORY | LibC.O_NOFOLLOW | LibC.O_CLOEXEC, 0);
        if (fd < 0) throw OpenFailure(Combine(name));
        return Adopt(Combine(name), new FileDescriptor(fd), created: true);
    }

    /// <summary>Renames <paramref name="from"/> to <paramref name="to"/>, replacing what <paramref name="to"/> named; false if <paramref name="from"/> does not exist.</summary>
    /// <exception cref="IOException">The rename failed.</exception>
    public bool Rename(string from, string to)
    {
        CheckName(from);
        CheckName(to);
        using var lease = Lease();
        if (LibC.renameat(lease.Number, from, lease.Number, to) == 0) return true;
        if (LibC.LastErrno == Errno.ENOENT) return false;
        throw Failure($"cannot rename {from} to {to} in", Path);
    }

    /// <summary>
    /// Removes <paramref name="name"/> if it is a regular file owned by this user (or a symbolic
    /// link, which removing never follows); false if there is none or it is anything else, which
    /// is left alone.
    /// </summary>
    /// <exception cref="IOException">The removal failed.</exception>
    public bool DeleteFile(string name)
    {
        CheckName(name);
        using var lease = Lease();
        if (Entry(lease.Number, name) is not { } existing) return false;
        bool link = (existing.Mode & LibC.S_IFMT) == LibC.S_IFLNK;
        if (!link && !IsOwnRegularFile(existing)) return false;
        if (LibC.unlinkat(lease.Number, name, 0) == 0) return true;
        if (LibC.LastErrno == Errno.ENOENT) return false;
        throw Failure("cannot remove", Combine(name));
    }

    /// <summary>The full path of entry <paramref name="name"/>.</summary>
    public string Combine(string name) => System.IO.Path.Combine(Path, name);

    /// <summary>Closes the directory's descriptor.</summary>
    public void Dispose() => _fd.Dispose();

    private readonly record struct FileStatus(int Mode, uint Owner);

    private static PrivateDirectory Adopt(string path, FileDescriptor fd, bool created)
    {
        try
        {
            if (created && LibC.fchmod(fd.Number, DirectoryMode) < 0) throw Failure("cannot set the mode of", path);
            var status = Status(fd.Number, "", LibC.AT_EMPTY_PATH, path)!.Value;
            int mode = status.Mode;
            if (!IsTrustedOwner(status.Owner))
                throw new UnsafePathException(path, $"is owned by uid {status.Owner}, not by uid {LibC.geteuid()} that runs Polynic (or root)");
            bool writable = (mode & WritableByOthers) != 0;
            if (writable && (mode & LibC.S_ISVTX) == 0)
                throw new UnsafePathException(path, $"is writable by group or others (mode {Octal(mode)}) and not sticky");
            return new PrivateDirectory(path, fd, writable);
        }
        catch
        {
            fd.Dispose();
            throw;
        }
    }

    private static bool IsTrustedOwner(uint owner) => owner == LibC.geteuid() || owner == 0;

    private static bool IsOwnRegularFile(FileStatus status) =>
        (status.Mode & LibC.S_IFMT) == LibC.S_IFREG && status.Owner == LibC.geteuid();

    private static string Describe(FileStatus status)
    {
        int type = status.Mode & LibC.S_IFMT;
        if (type == LibC.S_IFLNK) return "is a symbolic link";
        if (type != LibC.S_IFREG) return "exists and is not a regular file";
        if (status.Owner != LibC.geteuid()) return $"is owned by uid {status.Owner}, not by uid {LibC.geteuid()} that runs Polynic";
        return $"is writable by group or others (mode {Octal(status.Mode)})";
    }

    private FileStatus? Entry(int directoryFd, string name) => Status(directoryFd, name, LibC.AT_SYMLINK_NOFOLLOW, Combine(name));

    /// <summary>statx of <paramref name="name"/> in <paramref name="directoryFd"/> (shown as <paramref name="path"/>); null if it does not exist.</summary>
    private static FileStatus? Status(int directoryFd, string name, int flags, string path)
    {
        byte* buffer = stackalloc byte[256];
        if (LibC.statx(directoryFd, name, flags, LibC.STATX_TYPE | LibC.STATX_MODE | LibC.STATX_UID, buffer) < 0)
        {
            if (LibC.LastErrno == Errno.ENOENT) return null;
            throw Failure("cannot examine", path);
        }
        return new FileStatus(*(ushort*)(buffer + LibC.StatxModeOffset), *(uint*)(buffer + LibC.StatxUidOffset));
    }

    private FileDescriptor.Lease Lease()
    {
        if (!_fd.TryLease(out var lease)) throw new ObjectDisposedException(Path);
        return lease;
    }

    private static void CheckName(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (name.Contains('/') || name is "." or ".." || name.Contains('\0'))
            throw new ArgumentException($"'{name}' is not a single file name.", nameof(name));
    }

    private static Exception OpenFailure(string path)
    {
        int errno = LibC.LastErrno;
        if (errno is not (Errno.ELOOP or Errno.ENOTDIR)) return new IOException($"cannot open directory {path}: {Errno.Describe(errno)}");
        // O_DIRECTORY|O_NOFOLLOW answers ENOTDIR for a link as for a file; tell them apart for the message.
        bool link = Status(LibC.AT_FDCWD, path, LibC.AT_SYMLINK_NOFOLLOW, path) is { } status && (status.Mode & LibC.S_IFMT) == LibC.S_IFLNK;
        return new UnsafePathException(path, link ? "is a symbolic link" : "is not a directory");
    }

    private static IOException Failure(string what, string path) => new($"{what} {path}: {Errno.Describe(LibC.LastErrno)}");

    private static string Octal(int mode) => "0" + Convert.ToString(mode & 0xFFF, 8);
}
