using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;
using OpenQA.Selenium.Support.UI;

namespace Polynic.EndToEnd.Tests.Dashboard;

/// <summary>
/// Debian's Chromium driven by Debian's chromedriver (apt: chromium, chromium-driver), headless,
/// with downloads going to a directory of the test's. Both paths are given explicitly, so Selenium
/// never looks for (or downloads) a browser or driver of its own; a missing one fails the test.
/// </summary>
internal sealed class DashboardBrowser : IDisposable
{
    public const string Chromium = "/usr/bin/chromium";
    public const string ChromeDriver = "/usr/bin/chromedriver";

    private DashboardBrowser(ChromeDriver driver, string downloads, string screenshots)
    {
        Driver = driver;
        Downloads = downloads;
        Screenshots = screenshots;
    }

    public ChromeDriver Driver { get; }

    public string Downloads { get; }

    public string Screenshots { get; }

    /// <summary>Fails (never skips) when a tool is missing, naming the package that provides it.</summary>
    public static void AssertInstalled()
    {
        var missing = new List<string>();
        if (!File.Exists(Chromium)) missing.Add($"{Chromium} (apt-get install chromium)");
        if (!File.Exists(ChromeDriver)) missing.Add($"{ChromeDriver} (apt-get install chromium-driver)");
        Assert.True(missing.Count == 0, "the dashboard's browser test needs " + string.Join(" and ", missing) + "; .ci/run installs them");
    }

    public static DashboardBrowser Start(string downloads, string screenshots)
    {
        AssertInstalled();
        Directory.CreateDirectory(downloads);
        Directory.CreateDirectory(screenshots);
        // Belt and braces: were Selenium Manager ever reached, it would stay offline.
        Environment.SetEnvironmentVariable("SE_OFFLINE", "true");
        var service = ChromeDriverService.CreateDefaultService(Path.GetDirectoryName(ChromeDriver)!, Path.GetFileName(ChromeDriver));
        service.SuppressInitialDiagnosticInformation = true;
        service.HideCommandPromptWindow = true;
        var options = new ChromeOptions { BinaryLocation = Chromium };
        // --no-sandbox: the tests run as root, where Chromium's sandbox refuses to start.
        options.AddArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1800",
            "--no-first-run", "--disable-extensions", "--disable-background-networking", "--disable-component-update");
        options.AddUserProfilePreference("download.default_directory", downloads);
        options.AddUserProfilePreference("download.prompt_for_download", false);
        options.AddUserProfilePreference("safebrowsing.enabled", false);
        options.SetLoggingPreference(LogType.Browser, LogLevel.All);
        var driver = new ChromeDriver(service, options, TimeSpan.FromSeconds(60));
        return new DashboardBrowser(driver, downloads, screenshots);
    }

    /// <summary>Waits until <paramref name="condition"/> holds (exceptions of a half-drawn page count as not yet).</summary>
    public T WaitFor<T>(string what, Func<IWebDriver, T> condition, TimeSpan? timeout = null)
    {
        var wait = new WebDriverWait(Driver, timeout ?? TimeSpan.FromSeconds(20)) { PollingInterval = TimeSpan.FromMilliseconds(200), Message = what };
        wait.IgnoreExceptionTypes(typeof(NoSuchElementException), typeof(StaleElementReferenceException));
        return wait.Until(condition);
    }

    /// <summary>An attribute of the element <paramref name="css"/> selects, read again if the page redrew it meanwhile.</summary>
    public string? Attribute(string css, string name) =>
        WaitFor($"{css} to be readable", d =>
        {
            try { return new Box(Find(css).GetAttribute(name)); }
            catch (StaleElementReferenceException) { return null; }
        })!.Value;

    private sealed record Box(string? Value);

    public IWebElement Find(string css) => Driver.FindElement(By.CssSelector(css));

    public IReadOnlyList<IWebElement> FindAll(string css) => Driver.FindElements(By.CssSelector(css));

    /// <summary>Saves a screenshot as NN-name.png, scrolled to <paramref name="show"/> if given, and returns its path.</summary>
    public string Screenshot(string name, string? show = null)
    {
        if (show is not null)
            Driver.ExecuteScript("arguments[0].scrollIntoView({block: 'center'});", Find(show));
        int n = Directory.GetFiles(Screenshots, "*.png").Length + 1;
        string path = Path.Combine(Screenshots, $"{n:00}-{name}.png");
        Driver.GetScreenshot().SaveAsFile(path);
        return path;
    }

    /// <summary>
    /// Messages the page logged at SEVERE (script errors, Content-Security-Policy violations), less
    /// Chromium's line for each HTTP error status: the refusals the test provokes on purpose.
    /// </summary>
    public IReadOnlyList<string> SevereLog() =>
        Driver.Manage().Logs.GetLog(LogType.Browser).Where(e => e.Level == LogLevel.Severe).Select(e => e.Message)
            .Where(m => !m.Contains("Failed to load resource: the server responded with a status of 4", StringComparison.Ordinal)).ToList();

    public void Dispose()
    {
        Driver.Quit();
        Driver.Dispose();
    }
}
