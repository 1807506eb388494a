namespace Polynic.Native;

/// <summary>
/// A directory or file Polynic was to write into (or trust) could be changed by another local
/// user, is a symbolic link, or already exists where Polynic creates something new. The message
/// names the path and the problem.
/// </summary>
public sealed class UnsafePathException : IOException
{
    /// <summary>Creates the exception for <paramref name="path"/> and what is wrong with it.</summary>
    public UnsafePathException(string path, string problem)
        : base($"{path} {problem}; Polynic refuses it, since another local user could then replace or redirect what Polynic writes there")
    {
        Path = path;
        Problem = problem;
    }

    /// <summary>The refused path.</summary>
    public string Path { get; }

    /// <summary>What is wrong with it, e.g. "is owned by uid 1000, not by uid 0 that runs Polynic".</summary>
    public string Problem { get; }
}
